CREATE TABLE `products` (
	`id` text PRIMARY KEY NOT NULL,
	`owner_id` text NOT NULL,
	`name` text NOT NULL,
	`slug` text NOT NULL,
	`defaults` text DEFAULT '{}' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `products_owner_slug_unique` ON `products` (`owner_id`,`slug`);--> statement-breakpoint
CREATE INDEX `products_owner_created_idx` ON `products` (`owner_id`,`created_at`);--> statement-breakpoint
ALTER TABLE `licenses` ADD `product_id` text REFERENCES products(id);--> statement-breakpoint
ALTER TABLE `licenses` ADD `customer_email` text;--> statement-breakpoint
ALTER TABLE `licenses` ADD `customer_name` text;--> statement-breakpoint
ALTER TABLE `licenses` ADD `external_id` text;--> statement-breakpoint
CREATE INDEX `licenses_product_created_idx` ON `licenses` (`product_id`,`created_at`) WHERE "product_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX `licenses_owner_external_id_unique` ON `licenses` (`owner_id`,`external_id`) WHERE "external_id" is not null;--> statement-breakpoint
CREATE INDEX `licenses_customer_email_idx` ON `licenses` (`customer_email`) WHERE "customer_email" is not null;
CREATE TABLE `devices` (
	`id` text PRIMARY KEY NOT NULL,
	`license_id` text NOT NULL,
	`fingerprint` text NOT NULL,
	`name` text,
	`ip` text,
	`first_seen_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	FOREIGN KEY (`license_id`) REFERENCES `licenses`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `devices_license_fingerprint_unique` ON `devices` (`license_id`,`fingerprint`);--> statement-breakpoint
CREATE TABLE `licenses` (
	`id` text PRIMARY KEY NOT NULL,
	`owner_id` text NOT NULL,
	`label` text DEFAULT '' NOT NULL,
	`key_digest` text NOT NULL,
	`key_ciphertext` text NOT NULL,
	`key_hint` text NOT NULL,
	`status` text DEFAULT 'active' NOT NULL,
	`expires_at` integer,
	`max_devices` integer,
	`metadata` text DEFAULT '{}' NOT NULL,
	`renewal_period` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `licenses_key_digest_unique` ON `licenses` (`key_digest`);--> statement-breakpoint
CREATE INDEX `licenses_owner_created_idx` ON `licenses` (`owner_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `licenses_created_idx` ON `licenses` (`created_at`);
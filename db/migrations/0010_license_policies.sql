CREATE TABLE `activations` (
	`id` text PRIMARY KEY NOT NULL,
	`license_id` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`license_id`) REFERENCES `licenses`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `activations_license_created_idx` ON `activations` (`license_id`,`created_at`);--> statement-breakpoint
DROP INDEX `licenses_expired_due_idx`;--> statement-breakpoint
ALTER TABLE `licenses` ADD `grace` text;--> statement-breakpoint
ALTER TABLE `licenses` ADD `grace_ends_at` integer;--> statement-breakpoint
ALTER TABLE `licenses` ADD `expires_after_activation` text;--> statement-breakpoint
ALTER TABLE `licenses` ADD `activation_limit_count` integer;--> statement-breakpoint
ALTER TABLE `licenses` ADD `activation_limit_period` text;--> statement-breakpoint
ALTER TABLE `licenses` ADD `lease_duration` text;--> statement-breakpoint
ALTER TABLE `licenses` ADD `grace_notified_for` integer;--> statement-breakpoint
ALTER TABLE `licenses` ADD `device_limit_reached_at` integer;--> statement-breakpoint
ALTER TABLE `licenses` ADD `anomaly_at` integer;--> statement-breakpoint
ALTER TABLE `licenses` ADD `anomaly_ips` integer;--> statement-breakpoint
CREATE INDEX `licenses_grace_due_idx` ON `licenses` (`expires_at`) WHERE "grace_ends_at" is not null and "grace_notified_for" is not "expires_at";--> statement-breakpoint
CREATE INDEX `licenses_expired_due_idx` ON `licenses` ((case when "grace_ends_at" is null then "expires_at" else "grace_ends_at" end)) WHERE "expires_at" is not null and "expired_notified_for" is not "expires_at";--> statement-breakpoint
ALTER TABLE `devices` ADD `lease_expires_at` integer;--> statement-breakpoint
CREATE INDEX `devices_license_fingerprint_lease_idx` ON `devices` (`license_id`,`fingerprint`,`lease_expires_at`);
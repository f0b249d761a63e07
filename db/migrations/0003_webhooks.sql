CREATE TABLE `webhook_attempts` (
	`id` text PRIMARY KEY NOT NULL,
	`delivery_id` text NOT NULL,
	`attempted_at` integer NOT NULL,
	`status_code` integer,
	`latency_ms` integer,
	`response` text,
	`succeeded` integer NOT NULL,
	FOREIGN KEY (`delivery_id`) REFERENCES `webhook_deliveries`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `webhook_attempts_delivery_idx` ON `webhook_attempts` (`delivery_id`,`attempted_at`);--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`endpoint_id` text NOT NULL,
	`event_type` text NOT NULL,
	`payload` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`retry_step` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer,
	`last_attempt_at` integer,
	`last_status_code` integer,
	`last_latency_ms` integer,
	`last_response` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`endpoint_id`) REFERENCES `webhook_endpoints`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_due_idx` ON `webhook_deliveries` (`next_attempt_at`) WHERE "status" = 'pending';--> statement-breakpoint
CREATE INDEX `webhook_deliveries_endpoint_created_id_idx` ON `webhook_deliveries` (`endpoint_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_created_idx` ON `webhook_deliveries` (`created_at`);--> statement-breakpoint
CREATE TABLE `webhook_endpoints` (
	`id` text PRIMARY KEY NOT NULL,
	`owner_id` text NOT NULL,
	`url` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`all_events` integer DEFAULT true NOT NULL,
	`event_types` text DEFAULT '[]' NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`disabled_reason` text,
	`secret_ciphertext` text NOT NULL,
	`previous_secret_ciphertext` text,
	`previous_secret_expires_at` integer,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`last_success_at` integer,
	`last_failure_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `webhook_endpoints_owner_created_idx` ON `webhook_endpoints` (`owner_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `webhook_endpoints_created_idx` ON `webhook_endpoints` (`created_at`);--> statement-breakpoint
ALTER TABLE `licenses` ADD `expiring_notified_for` integer;--> statement-breakpoint
ALTER TABLE `licenses` ADD `expired_notified_for` integer;--> statement-breakpoint
CREATE INDEX `licenses_expiring_due_idx` ON `licenses` (`expires_at`) WHERE "expires_at" is not null and "expiring_notified_for" is not "expires_at";--> statement-breakpoint
CREATE INDEX `licenses_expired_due_idx` ON `licenses` (`expires_at`) WHERE "expires_at" is not null and "expired_notified_for" is not "expires_at";--> statement-breakpoint
-- Hand-added (before first release): licences that expired before this version count as announced, so upgrading does not announce years-old expiries.
UPDATE `licenses` SET `expiring_notified_for` = `expires_at`, `expired_notified_for` = `expires_at` WHERE `expires_at` IS NOT NULL AND `expires_at` <= CAST(strftime('%s', 'now') AS integer) * 1000;

CREATE TABLE `auth_attempts` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`account` text NOT NULL,
	`ip_key` text NOT NULL,
	`state` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `auth_attempts_account_idx` ON `auth_attempts` (`kind`,`account`,`created_at`);--> statement-breakpoint
CREATE INDEX `auth_attempts_ip_idx` ON `auth_attempts` (`kind`,`ip_key`,`created_at`);--> statement-breakpoint
CREATE INDEX `auth_attempts_created_idx` ON `auth_attempts` (`created_at`);
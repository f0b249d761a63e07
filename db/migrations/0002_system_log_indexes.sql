DROP INDEX `events_created_idx`;--> statement-breakpoint
DROP INDEX `events_type_created_idx`;--> statement-breakpoint
DROP INDEX `events_subject_created_idx`;--> statement-breakpoint
DROP INDEX `events_owner_created_idx`;--> statement-breakpoint
DROP INDEX `events_ip_created_idx`;--> statement-breakpoint
CREATE INDEX `events_created_id_idx` ON `events` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `events_type_created_id_idx` ON `events` (`type`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `events_group_created_id_idx` ON `events` ((case when "type" glob 'auth.*' or "type" glob 'session.*' then 'auth' when "type" glob 'license.*' then 'licenses' when "type" glob 'validation.*' then 'validations' when "type" glob 'device.*' then 'devices' when "type" glob 'user.*' then 'admin' end),`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `events_subject_created_id_idx` ON `events` (`subject_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `events_owner_created_id_idx` ON `events` (`owner_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `events_actor_created_id_idx` ON `events` (`actor_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `events_ip_created_id_idx` ON `events` (`ip`,`created_at`,`id`);
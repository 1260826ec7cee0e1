-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_audit_entries" table
CREATE TABLE `new_audit_entries` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `at` datetime NOT NULL, `key_id` integer NULL, `key_name` text NOT NULL, `role` text NOT NULL, `partner_id` integer NULL, `operation` text NOT NULL, `ids` json NOT NULL, `success` bool NOT NULL, `error_code` text NULL, `message` text NULL, `refused_before_execution` bool NOT NULL DEFAULT (false));
-- Set sequence for "new_audit_entries" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_audit_entries", 85899345920);
-- Copy rows from old table "audit_entries" to new temporary table "new_audit_entries"
INSERT INTO `new_audit_entries` (`id`, `at`, `key_id`, `key_name`, `role`, `partner_id`, `operation`, `ids`, `success`, `error_code`) SELECT `id`, `at`, `key_id`, `key_name`, `role`, `partner_id`, `operation`, `ids`, `success`, `error_code` FROM `audit_entries`;
-- Drop "audit_entries" table after copying rows
DROP TABLE `audit_entries`;
-- Rename temporary table "new_audit_entries" to "audit_entries"
ALTER TABLE `new_audit_entries` RENAME TO `audit_entries`;
-- Create index "auditentry_key_id" to table: "audit_entries"
CREATE INDEX `auditentry_key_id` ON `audit_entries` (`key_id`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

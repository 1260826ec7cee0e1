-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_accounts" table
CREATE TABLE `new_accounts` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `bill_day` integer NOT NULL, `currency_id` integer NOT NULL, `partner_id` integer NULL, CONSTRAINT `accounts_currencies_currency` FOREIGN KEY (`currency_id`) REFERENCES `currencies` (`id`) ON DELETE NO ACTION, CONSTRAINT `accounts_partners_accounts` FOREIGN KEY (`partner_id`) REFERENCES `partners` (`id`) ON DELETE SET NULL);
-- Copy rows from old table "accounts" to new temporary table "new_accounts"
INSERT INTO `new_accounts` (`id`, `name`, `bill_day`, `currency_id`) SELECT `id`, `name`, `bill_day`, `currency_id` FROM `accounts`;
-- Drop "accounts" table after copying rows
DROP TABLE `accounts`;
-- Rename temporary table "new_accounts" to "accounts"
ALTER TABLE `new_accounts` RENAME TO `accounts`;
-- Create index "account_partner_id_id" to table: "accounts"
CREATE INDEX `account_partner_id_id` ON `accounts` (`partner_id`, `id`);
-- Create "api_keys" table
CREATE TABLE `api_keys` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `prefix` text NOT NULL, `secret_hash` blob NOT NULL, `role` text NOT NULL, `created_at` datetime NOT NULL, `expires_at` datetime NULL, `revoked_at` datetime NULL, `partner_id` integer NULL, CONSTRAINT `api_keys_partners_api_keys` FOREIGN KEY (`partner_id`) REFERENCES `partners` (`id`) ON DELETE SET NULL);
-- Set sequence for "api_keys" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("api_keys", 81604378624);
-- Create index "api_keys_prefix_key" to table: "api_keys"
CREATE UNIQUE INDEX `api_keys_prefix_key` ON `api_keys` (`prefix`);
-- Create "audit_entries" table
CREATE TABLE `audit_entries` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `at` datetime NOT NULL, `key_id` integer NULL, `key_name` text NOT NULL, `role` text NOT NULL, `partner_id` integer NULL, `operation` text NOT NULL, `ids` json NOT NULL, `success` bool NOT NULL, `error_code` text NULL);
-- Set sequence for "audit_entries" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("audit_entries", 85899345920);
-- Create index "auditentry_key_id" to table: "audit_entries"
CREATE INDEX `auditentry_key_id` ON `audit_entries` (`key_id`);
-- Create "partners" table
CREATE TABLE `partners` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `created_at` datetime NOT NULL);
-- Set sequence for "partners" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("partners", 90194313216);
-- Create index "partners_name_key" to table: "partners"
CREATE UNIQUE INDEX `partners_name_key` ON `partners` (`name`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

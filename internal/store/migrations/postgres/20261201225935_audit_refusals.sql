-- Modify "audit_entries" table
ALTER TABLE "audit_entries" ADD COLUMN "message" character varying NULL, ADD COLUMN "refused_before_execution" boolean NOT NULL DEFAULT false;

-- Create index "accountpackage_account_id_id" to table: "account_packages"
CREATE INDEX "accountpackage_account_id_id" ON "account_packages" ("account_id", "id");
-- Drop index "invoice_account_id" from table: "invoices"
DROP INDEX "invoice_account_id";
-- Drop index "invoice_bill_run_id" from table: "invoices"
DROP INDEX "invoice_bill_run_id";
-- Create index "invoice_account_id_id" to table: "invoices"
CREATE INDEX "invoice_account_id_id" ON "invoices" ("account_id", "id");
-- Create index "invoice_bill_run_id_account_id" to table: "invoices"
CREATE INDEX "invoice_bill_run_id_account_id" ON "invoices" ("bill_run_id", "account_id");

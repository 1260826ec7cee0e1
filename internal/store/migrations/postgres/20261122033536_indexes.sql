-- Create index "accountservice_account_package_id" to table: "account_services"
CREATE INDEX "accountservice_account_package_id" ON "account_services" ("account_package_id");
-- Create index "statuschange_account_service_id" to table: "status_changes"
CREATE INDEX "statuschange_account_service_id" ON "status_changes" ("account_service_id");

package main

import (
	"database/sql"
	"database/sql/driver"

	"github.com/jackc/pgx/v5/stdlib"
)

func pgxDriver() driver.Driver { return stdlib.GetDefaultDriver() }

func sqliteDriver() driver.Driver {
	db, err := sql.Open("sqlite", "")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	return db.Driver()
}

//go:build cgo

package emk

import (
	"database/sql/driver"

	"github.com/mattn/go-sqlite3"
)

var sqliteDriver driver.Driver = &sqlite3.SQLiteDriver{}

// errNoSQLite is nil when SQLite is compiled in.
var errNoSQLite error

//go:build cgo

package recorder

import (
	"errors"

	"github.com/mattn/go-sqlite3"
)

var sqliteDriver = &sqlite3.SQLiteDriver{}

// errNoSQLite is nil when SQLite is compiled in.
var errNoSQLite error

// sqliteKind sorts a SQLite error into the kinds the recorder reports.
func sqliteKind(err error) sqliteErrKind {
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrNotADB, sqlite3.ErrCorrupt:
			return sqliteCorrupt
		case sqlite3.ErrFull:
			return sqliteFull
		}
	}
	return sqliteOther
}

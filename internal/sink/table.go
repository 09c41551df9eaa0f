package sink

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// IsTableURL reports whether s names a database table (sqlite:// or postgres://), as reference
// data inputs may.
func IsTableURL(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	return ok && (scheme == "sqlite" || scheme == "postgres" || scheme == "postgresql")
}

// ReadTable reads every row of a table as records, columns in table order: the reference data
// of a job read from SQLite (sqlite:///path.db?table=T) or PostgreSQL (postgres://…?table=T).
// Integers become bigint, reals float, text nvarchar(max), booleans bit, timestamps datetime,
// NULL NULL; other types are read as their text.
func ReadTable(ctx context.Context, rawURL string) ([]sqlval.Value, error) {
	scheme, rest, _ := strings.Cut(rawURL, "://")
	if scheme == "sqlite" {
		path, table, err := parseSQLiteURL(rest, "")
		if err != nil {
			return nil, err
		}
		abs, err := absPath("sqlite", path)
		if err != nil {
			return nil, err
		}
		db, err := sql.Open("sqlite", abs+"?mode=ro")
		if err != nil {
			return nil, err
		}
		defer db.Close()
		rows, err := db.QueryContext(ctx, "SELECT * FROM "+quoteIdent(table))
		if err != nil {
			return nil, errcode.New(errcode.Unavailable, "reference table %s in %s: %w", table, abs, err)
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return nil, err
		}
		var out []sqlval.Value
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return nil, err
			}
			out = append(out, tableRecord(cols, vals))
		}
		return out, rows.Err()
	}
	cfg, table, err := parsePostgresURL(rawURL, "")
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, errcode.New(errcode.Unavailable, "reference table %s: connecting to PostgreSQL at %s: %w", table, cfg.Host, err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SELECT * FROM "+quoteIdent(table))
	if err != nil {
		return nil, errcode.New(errcode.Unavailable, "reference table %s: %w", table, err)
	}
	defer rows.Close()
	var cols []string
	for _, f := range rows.FieldDescriptions() {
		cols = append(cols, f.Name)
	}
	var out []sqlval.Value
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		out = append(out, tableRecord(cols, vals))
	}
	return out, rows.Err()
}

func tableRecord(cols []string, vals []any) sqlval.Value {
	fields := make([]sqlval.Field, len(cols))
	for i, c := range cols {
		fields[i] = sqlval.Field{Name: c, Value: tableValue(vals[i])}
	}
	return sqlval.Record(fields)
}

func tableValue(v any) sqlval.Value {
	switch v := v.(type) {
	case nil:
		return sqlval.Null
	case int64:
		return sqlval.Bigint(v)
	case int32:
		return sqlval.Bigint(int64(v))
	case int16:
		return sqlval.Bigint(int64(v))
	case float64:
		return sqlval.Float(v)
	case float32:
		return sqlval.Float(float64(v))
	case bool:
		return sqlval.Bit(v)
	case string:
		return sqlval.String(v)
	case []byte:
		return sqlval.String(string(v))
	case time.Time:
		if d, ok := sqlval.DatetimeFromTime(v); ok {
			return d
		}
	}
	return sqlval.String(fmt.Sprint(v))
}

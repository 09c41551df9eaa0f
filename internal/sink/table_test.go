package sink

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tandem-streaming/tandem/internal/sink/sinktest"
)

// Reference data read from a table: columns in table order, typed values, NULLs.
func TestReadTable(t *testing.T) {
	const want = `{"DeviceId":"d1","SensorName":"Temperature","Value":85,"Ratio":0.5,"Note":null}` + "\n" +
		`{"DeviceId":"d2","SensorName":"Humidity","Value":65,"Ratio":1.5,"Note":"x"}` + "\n"
	ddl := `CREATE TABLE thresholds ("DeviceId" TEXT, "SensorName" TEXT, "Value" BIGINT, "Ratio" DOUBLE PRECISION, "Note" TEXT)`
	ins := `INSERT INTO thresholds VALUES ('d1', 'Temperature', 85, 0.5, NULL), ('d2', 'Humidity', 65, 1.5, 'x')`
	ctx := context.Background()

	path := filepath.Join(t.TempDir(), "ref.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{ddl, ins} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	check(t, "sqlite", "sqlite://"+path+"?table=thresholds", want)

	dsn := sinktest.Postgres(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{ddl, ins} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	check(t, "postgres", dsn+sep+"table=thresholds", want)
}

func check(t *testing.T, name, url, want string) {
	t.Helper()
	rows, err := ReadTable(context.Background(), url)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var got strings.Builder
	for _, r := range rows {
		got.Write(r.AppendJSON(nil))
		got.WriteString("\n")
	}
	if got.String() != want {
		t.Fatalf("%s: got\n%s\nwant\n%s", name, got.String(), want)
	}
}

package saql

import (
	"errors"
	"reflect"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// queryTests are whole queries, most of them the worked examples of the Stream Analytics
// documentation, each with a check of the tree. Every one must also round-trip through String().
var queryTests = []struct {
	name  string
	src   string
	check func(t *testing.T, q *Query)
}{
	{"tumbling window", `
SELECT System.Timestamp() as WindowEndTime, TimeZone, COUNT(*) AS Count
FROM TwitterStream TIMESTAMP BY CreatedAt
GROUP BY TimeZone, TumblingWindow(second,10)`, func(t *testing.T, q *Query) {
		s := first(q)
		want(t, "items", len(s.Items), 3)
		want(t, "alias", s.Items[0].Alias.Name, "WindowEndTime")
		want(t, "item 0", sexpr(s.Items[0].Expr), "(SYSTEM.TIMESTAMP)")
		want(t, "item 2", sexpr(s.Items[2].Expr), "(COUNT *)")
		want(t, "from", s.From.Name.Name, "TwitterStream")
		want(t, "timestamp by", sexpr(s.From.TimestampBy), "CreatedAt")
		want(t, "group by", sexprs(s.GroupBy), "TimeZone (TUMBLINGWINDOW #second 10)")
		want(t, "into", s.Into == nil, true)
	}},
	{"hopping window", `
SELECT System.Timestamp() as WindowEndTime, Topic, COUNT(*) AS Count
FROM TwitterStream TIMESTAMP BY CreatedAt
GROUP BY Topic, HoppingWindow(second, 10, 5)`, func(t *testing.T, q *Query) {
		want(t, "group by", sexprs(first(q).GroupBy), "Topic (HOPPINGWINDOW #second 10 5)")
	}},
	{"sliding window with HAVING", `
SELECT System.Timestamp() as WindowEndTime, Topic, COUNT(*) AS Count
FROM TwitterStream TIMESTAMP BY CreatedAt
GROUP BY Topic, SlidingWindow(second, 10)
HAVING COUNT(*) >=3`, func(t *testing.T, q *Query) {
		want(t, "having", sexpr(first(q).Having), "(>= (COUNT *) 3)")
	}},
	{"session window", `
SELECT System.Timestamp() as WindowEndTime, Topic, COUNT(*) AS Count
FROM TwitterStream TIMESTAMP BY CreatedAt
GROUP BY Topic, SessionWindow(second, 5, 10)`, func(t *testing.T, q *Query) {
		want(t, "group by", sexprs(first(q).GroupBy), "Topic (SESSIONWINDOW #second 5 10)")
	}},
	{"snapshot window", `
SELECT System.Timestamp() AS WindowEnd, Topic, COUNT(*)
FROM TwitterStream TIMESTAMP BY CreatedAt
GROUP BY Topic, System.Timestamp()`, func(t *testing.T, q *Query) {
		want(t, "group by", sexprs(first(q).GroupBy), "Topic (SYSTEM.TIMESTAMP)")
	}},
	{"multiple windows", `
SELECT TollId, COUNT(*) AS Count
FROM Input TIMESTAMP BY EntryTime
GROUP BY TollId, Windows(
    Window('10 min', TumblingWindow(minute, 10)),
    Window('1 hour', HoppingWindow(minute, 60, 10)))`, func(t *testing.T, q *Query) {
		want(t, "windows", sexpr(first(q).GroupBy[1]),
			"(WINDOWS (WINDOW '10 min' (TUMBLINGWINDOW #minute 10)) (WINDOW '1 hour' (HOPPINGWINDOW #minute 60 10)))")
	}},
	{"LAG", `
SELECT sensorId, reading, LAG(reading) OVER (PARTITION BY sensorId LIMIT DURATION(hour, 1)) AS previous
INTO output
FROM input
WHERE reading <> LAG(reading) OVER (PARTITION BY sensorId LIMIT DURATION(hour, 1))`, func(t *testing.T, q *Query) {
		s := first(q)
		want(t, "into", s.Into.Name, "output")
		want(t, "lag", sexpr(s.Items[2].Expr), "(LAG reading (over (partition sensorId) (limit #hour 1)))")
		want(t, "where", sexpr(s.Where), "(<> reading (LAG reading (over (partition sensorId) (limit #hour 1))))")
	}},
	{"ISFIRST", `
SELECT License_plate, Make, Time
FROM Input TIMESTAMP BY Time
WHERE IsFirst(minute, 10) OVER (PARTITION BY Make) = 1`, func(t *testing.T, q *Query) {
		want(t, "where", sexpr(first(q).Where), "(= (ISFIRST #minute 10 (over (partition Make))) 1)")
	}},
	{"LAST with WHEN", `
SELECT err.deviceId,
    DATEDIFF(second, LAST(err.time) OVER (PARTITION BY err.deviceId LIMIT DURATION(hour, 1) WHEN err.value = 1), err.time) AS duration
FROM input err TIMESTAMP BY time
WHERE err.value = 0`, func(t *testing.T, q *Query) {
		s := first(q)
		want(t, "alias", s.From.Alias.Name, "err")
		want(t, "duration", sexpr(s.Items[1].Expr),
			"(DATEDIFF #second (LAST err.time (over (partition err.deviceId) (limit #hour 1) (when (= err.value 1)))) err.time)")
	}},
	{"stream JOIN with DATEDIFF", `
SELECT e.TollId, e.EntryTime, t.ExitTime, DATEDIFF(minute, e.EntryTime, t.ExitTime) AS Minutes
INTO output
FROM EntryStream e TIMESTAMP BY EntryTime
JOIN ExitStream t TIMESTAMP BY ExitTime
ON (e.TollId = t.TollId AND e.LicensePlate = t.LicensePlate)
AND DATEDIFF(minute, e, t) BETWEEN 0 AND 15`, func(t *testing.T, q *Query) {
		s := first(q)
		want(t, "joins", len(s.Joins), 1)
		j := s.Joins[0]
		want(t, "kind", j.Kind, JoinInner)
		want(t, "source", j.Source.Name.Name+" "+j.Source.Alias.Name+" "+sexpr(j.Source.TimestampBy), "ExitStream t ExitTime")
		want(t, "on", sexpr(j.On), "(AND (AND (= e.TollId t.TollId) (= e.LicensePlate t.LicensePlate)) (between (DATEDIFF #minute e t) 0 15))")
	}},
	{"LEFT OUTER JOIN", `
SELECT I1.id FROM Input1 AS I1 TIMESTAMP BY t
LEFT OUTER JOIN Input2 I2 ON I1.id = I2.id AND DATEDIFF(second, I1, I2) BETWEEN 0 AND 10
INNER JOIN Ref r ON r.id = I1.id
WHERE I2.id IS NULL`, func(t *testing.T, q *Query) {
		s := first(q)
		want(t, "kinds", []JoinKind{s.Joins[0].Kind, s.Joins[1].Kind}, []JoinKind{JoinLeft, JoinInner})
		want(t, "where", sexpr(s.Where), "(is-null I2.id)")
	}},
	{"CROSS APPLY GetArrayElements", `
SELECT event.DeviceID, arrayElement.ArrayIndex, arrayElement.ArrayValue
FROM input as event
CROSS APPLY GetArrayElements(event.SensorReadings) AS arrayElement`, func(t *testing.T, q *Query) {
		j := first(q).Joins[0]
		want(t, "kind", j.Kind, CrossApply)
		want(t, "func", sexpr(j.Source.Func), "(GETARRAYELEMENTS event.SensorReadings)")
		want(t, "alias", j.Source.Alias.Name, "arrayElement")
	}},
	{"OUTER APPLY GetRecordProperties", `
SELECT event.deviceID, recordProperty.PropertyName, recordProperty.PropertyValue
FROM input as event
OUTER APPLY GetRecordProperties(event.SensorReadings) recordProperty`, func(t *testing.T, q *Query) {
		j := first(q).Joins[0]
		want(t, "kind", j.Kind, OuterApply)
		want(t, "alias", j.Source.Alias.Name, "recordProperty")
	}},
	{"TopOne", `
SELECT TopOne() OVER (ORDER BY Count DESC) AS HighestCount, System.Timestamp() AS T
FROM Input TIMESTAMP BY Time
GROUP BY TumblingWindow(minute, 10)`, func(t *testing.T, q *Query) {
		want(t, "topone", sexpr(first(q).Items[0].Expr), "(TOPONE (over (order Count desc)))")
	}},
	{"Collect", `
SELECT System.Timestamp() AS time, Collect() AS allEvents
FROM input
GROUP BY TumblingWindow(minute, 5)`, func(t *testing.T, q *Query) {
		want(t, "collect", sexpr(first(q).Items[1].Expr), "(COLLECT)")
	}},
	{"CASE", `
SELECT Make, CASE WHEN COUNT(*) = 1 THEN CONCAT('1 ', Make) ELSE CONCAT(CAST(COUNT(*) AS NVARCHAR(MAX)), ' ', Make, 's') END AS CarsPassed
FROM Input TIMESTAMP BY Time
GROUP BY Make, TumblingWindow(second, 10)`, func(t *testing.T, q *Query) {
		want(t, "case", sexpr(first(q).Items[1].Expr),
			"(case (when (= (COUNT *) 1) (CONCAT '1 ' Make)) (else (CONCAT (cast (COUNT *) nvarchar(max)) ' ' Make 's')))")
	}},
	{"TRY_CAST", `
SELECT TRY_CAST(Price AS float) AS Price, CAST(Weight AS bigint) AS W
FROM Input
WHERE TRY_CAST(Price AS float) IS NOT NULL`, func(t *testing.T, q *Query) {
		want(t, "where", sexpr(first(q).Where), "(is-not-null (try_cast Price float))")
	}},
	{"several outputs", `
SELECT * INTO ArchiveOutput FROM Input TIMESTAMP BY Time;

SELECT Make, System.Timestamp() AS Time, COUNT(*) AS [Count]
INTO AlertOutput
FROM Input TIMESTAMP BY Time
GROUP BY Make, TumblingWindow(second, 10)
HAVING [Count] >= 3
SELECT Make INTO Third FROM Input;`, func(t *testing.T, q *Query) {
		want(t, "statements", len(q.Statements), 3)
		want(t, "intos", q.Statements[0].Into().Name+" "+q.Statements[1].Into().Name+" "+q.Statements[2].Into().Name,
			"ArchiveOutput AlertOutput Third")
		want(t, "star", q.Statements[0].Selects[0].Items[0].Star, true)
		want(t, "quoted", *q.Statements[1].Selects[0].Items[2].Alias, Ident{At: Pos{4, 54}, Name: "Count", Quoted: true})
	}},
	{"UNION", `
SELECT TollId, EntryTime AS Time, LicensePlate INTO out FROM EntryStream TIMESTAMP BY EntryTime
UNION
SELECT TollId, ExitTime AS Time, LicensePlate FROM ExitStream TIMESTAMP BY ExitTime
UNION ALL
SELECT TollId, T, LicensePlate FROM Other`, func(t *testing.T, q *Query) {
		st := q.Statements[0]
		want(t, "selects", len(st.Selects), 3)
		want(t, "all", st.UnionAll, []bool{false, true})
		want(t, "into", st.Into().Name, "out")
	}},
	{"WITH steps and UNION inside a step", `
WITH Both AS (
    SELECT TollId, EntryTime AS Time FROM EntryStream TIMESTAMP BY EntryTime
    UNION
    SELECT TollId, ExitTime AS Time FROM ExitStream TIMESTAMP BY ExitTime
),
Counts AS (
    SELECT TollId, COUNT(*) AS N FROM Both GROUP BY TollId, TumblingWindow(minute, 1)
)
SELECT * INTO out1 FROM Counts WHERE N > 10
SELECT TollId INTO out2 FROM Both`, func(t *testing.T, q *Query) {
		want(t, "steps", len(q.With), 2)
		want(t, "step 0", q.With[0].Name.Name+" "+q.With[0].Body.Selects[1].From.Name.Name, "Both ExitStream")
		want(t, "step 1 at", q.With[1].At, Pos{7, 1})
		want(t, "statements", len(q.Statements), 2)
	}},
	{"TIMESTAMP BY OVER and PARTITION BY", `
SELECT TollId, PartitionId, COUNT(*)
FROM input TIMESTAMP BY Time OVER TollId, Lane PARTITION BY PartitionId
GROUP BY TumblingWindow(second, 5), TollId, PartitionId`, func(t *testing.T, q *Query) {
		f := first(q).From
		want(t, "over", sexprs(f.TimestampOver), "TollId Lane")
		want(t, "partition", sexpr(f.PartitionBy), "PartitionId")
	}},
	{"COUNT DISTINCT", `
SELECT COUNT(DISTINCT Make) AS CountMake, System.TIMESTAMP() AS TIME
FROM Input TIMESTAMP BY TIME
GROUP BY TumblingWindow(second, 2)`, func(t *testing.T, q *Query) {
		want(t, "count", sexpr(first(q).Items[0].Expr), "(COUNT distinct Make)")
	}},
	{"DISTINCT TOP, qualified star, implicit aliases, comments", `
-- pick a few
SELECT DISTINCT TOP 10 i.*, i.a.b.c nested, [weird name], "dq" /* inline */ AS d
FROM input i
WHERE i.Plate LIKE 'A%' AND i.Make NOT IN ('x', 'y') AND i.Speed NOT BETWEEN 10 AND 20`, func(t *testing.T, q *Query) {
		s := first(q)
		want(t, "distinct top", s.Distinct && s.Top.Raw == "10", true)
		want(t, "qualified star", s.Items[0].Star && s.Items[0].Qualifier.Name == "i", true)
		want(t, "nested", s.Items[1].Alias.Name+" "+sexpr(s.Items[1].Expr), "nested i.a.b.c")
		want(t, "quoted", s.Items[2].Expr.(*ColumnRef).Parts[0], Ident{At: Pos{3, 45}, Name: "weird name", Quoted: true})
		want(t, "dq", s.Items[3].Alias.Name, "d")
		want(t, "source alias", s.From.Alias.Name, "i")
	}},
	{"date functions and record access", `
SELECT DATEADD(day, 1, t) AS Tomorrow, DATEPART(hour, t) AS H, DATENAME(month, t) AS M,
    GetRecordPropertyValue(e.props, 'key') AS V, GetArrayLength(e.arr) AS L, udf.clean(e.name) AS C,
    N'unicode' AS U, -e.x AS Neg
FROM events e`, func(t *testing.T, q *Query) {
		s := first(q)
		want(t, "dateadd", sexpr(s.Items[0].Expr), "(DATEADD #day 1 t)")
		want(t, "udf", sexpr(s.Items[5].Expr), "(UDF.CLEAN e.name)")
		want(t, "nstring", s.Items[6].Expr.(*StringLit).National, true)
	}},
	{"positions", "SELECT a\n  INTO o\n  FROM\n\tinput", func(t *testing.T, q *Query) {
		s := first(q)
		want(t, "select at", s.At, Pos{1, 1})
		want(t, "into at", s.Into.At, Pos{2, 8})
		want(t, "from at", s.FromAt, Pos{3, 3})
		want(t, "source at", s.From.At, Pos{4, 2})
	}},
}

func TestParseQueries(t *testing.T) {
	for _, tt := range queryTests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustParse(t, tt.src))
		})
	}
}

func TestErrorCarriesErrcode(t *testing.T) {
	_, err := Parse("SELECT")
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("error %T is not *saql.Error", err)
	}
	if got := errcode.CodeOf(err); got != errcode.InvalidArgument {
		t.Errorf("errcode.CodeOf = %s, want InvalidArgument", got)
	}
	if se.Code() != errcode.InvalidArgument {
		t.Errorf("Code() = %s", se.Code())
	}
}

func first(q *Query) *Select { return q.Statements[0].Selects[0] }

func want[T any](t *testing.T, what string, got, wantV T) {
	t.Helper()
	if !reflect.DeepEqual(got, wantV) {
		t.Errorf("%s = %+v, want %+v", what, got, wantV)
	}
}

func TestStringIsCanonical(t *testing.T) {
	src := `with Steps as (select a x, "b c" from [in] i where not a=-1 union all select a, b from j)
select distinct i.*, count(*) cnt, case when x is null then n'?' end as y into [out] from Steps i
  timestamp by t over k partition by PartitionId
  left join r on i.k = r.k and datediff(mi, i, r) between 0 and 5
  cross apply GetArrayElements(i.arr) e
where x not like 'a%' group by TumblingWindow(second, 10), i.k having count(*) > 1;
select * into o2 from Steps`
	want := `WITH Steps AS (
    SELECT a AS x, [b c]
    FROM [in] AS i
    WHERE NOT a = -1
    UNION ALL
    SELECT a, b
    FROM j
)
SELECT DISTINCT i.*, count(*) AS cnt, CASE WHEN x IS NULL THEN N'?' END AS y
INTO [out]
FROM Steps AS i TIMESTAMP BY t OVER k PARTITION BY PartitionId
LEFT OUTER JOIN r
    ON i.k = r.k AND datediff(mi, i, r) BETWEEN 0 AND 5
CROSS APPLY GetArrayElements(i.arr) AS e
WHERE x NOT LIKE 'a%'
GROUP BY TumblingWindow(second, 10), i.k
HAVING count(*) > 1

SELECT *
INTO o2
FROM Steps`
	if got := mustParse(t, src).String(); got != want {
		t.Errorf("String():\n%s\nwant:\n%s", got, want)
	}
}

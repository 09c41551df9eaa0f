package httpapi

import (
	"strings"
	"testing"
)

func TestHubCRUD(t *testing.T) {
	e := newEnv(t, false)
	e.must(201, e.do("PUT", "/namespaces/space1", e.admin, nil))
	r := e.must(201, e.do("PUT", "/namespaces/space1/eventhubs/orders", e.admin,
		`{"properties":{"partitionCount":3,"messageRetentionInDays":2,"maxEventBytes":4096}}`))
	p := r.json["properties"].(map[string]any)
	if p["partitionCount"] != 3.0 || p["messageRetentionInDays"] != 2.0 || p["maxEventBytes"] != 4096.0 {
		t.Fatalf("created hub %s", r.raw)
	}
	if rd := p["retentionDescription"].(map[string]any); rd["retentionTimeInHours"] != 48.0 {
		t.Fatalf("retentionDescription %v", rd)
	}
	if ids := p["partitionIds"].([]any); len(ids) != 3 || ids[2] != "2" {
		t.Fatalf("partitionIds %v", ids)
	}
	// PUT on an existing hub updates the fields it gives, and partitions only grow.
	r = e.must(200, e.do("PUT", "/namespaces/space1/eventhubs/orders", e.admin,
		`{"properties":{"partitionCount":5,"retentionDescription":{"retentionTimeInHours":12}}}`))
	p = r.json["properties"].(map[string]any)
	if p["partitionCount"] != 5.0 || p["maxEventBytes"] != 4096.0 || p["retentionDescription"].(map[string]any)["retentionTimeInHours"] != 12.0 {
		t.Fatalf("updated hub %s", r.raw)
	}
	r = e.do("PUT", "/namespaces/space1/eventhubs/orders", e.admin, `{"properties":{"partitionCount":2}}`)
	if r.status/100 != 4 {
		t.Fatalf("shrinking partitions: status %d %s", r.status, r.raw)
	}
	r = e.must(200, e.do("GET", "/namespaces/space1/eventhubs", e.admin, nil))
	if v := r.json["value"].([]any); len(v) != 1 {
		t.Fatalf("list %s", r.raw)
	}
	e.must(200, e.do("DELETE", "/namespaces/space1/eventhubs/orders", e.admin, nil))
	r = e.must(404, e.do("GET", "/namespaces/space1/eventhubs/orders", e.admin, nil))
	if r.code() != "NotFound" {
		t.Fatalf("code %s", r.code())
	}
}

func TestHubValidation(t *testing.T) {
	e := newEnv(t, false)
	e.must(201, e.do("PUT", "/namespaces/space1", e.admin, nil))
	for _, tc := range []struct {
		body, want string
	}{
		{`{"properties":{"partitionCount":0}}`, "1 to 1024 partitions"},
		{`{"properties":{"partitionCount":2000}}`, "1 to 1024 partitions"},
		{`{"properties":{"partitionCount":"four"}}`, "partitionCount"},
		{`{"properties":{"messageRetentionInDays":1,"retentionTimeInHours":5}}`, "two different retention times"},
		{`{"properties":{"retentionTimeInHours":0}}`, "retention time"},
		{`{"properties":`, "JSON"},
		{`{"properties":{"partitionCount":2,}}`, "byte offset"},
	} {
		r := e.must(400, e.do("PUT", "/namespaces/space1/eventhubs/h", e.admin, tc.body))
		if r.code() != "InvalidArgument" || !strings.Contains(r.message(), tc.want) {
			t.Errorf("body %s: got %s %q, want InvalidArgument naming %q", tc.body, r.code(), r.message(), tc.want)
		}
	}
	r := e.must(404, e.do("PUT", "/namespaces/nope/eventhubs/h", e.admin, nil))
	if r.code() != "NotFound" {
		t.Fatalf("hub in unknown namespace: %s", r.raw)
	}
}

func TestConsumerGroupCRUD(t *testing.T) {
	e := newEnv(t, false)
	e.setup("space1", "orders", 2)
	base := "/namespaces/space1/eventhubs/orders/consumergroups"
	r := e.must(201, e.do("PUT", base+"/billing", e.admin, `{"properties":{"userMetadata":"team billing"}}`))
	if r.json["properties"].(map[string]any)["userMetadata"] != "team billing" {
		t.Fatalf("group %s", r.raw)
	}
	e.must(200, e.do("PUT", base+"/billing", e.admin, `{"properties":{"userMetadata":"team billing"}}`))
	r = e.must(409, e.do("PUT", base+"/billing", e.admin, `{"properties":{"userMetadata":"other"}}`))
	if !strings.Contains(r.message(), "cannot be updated") {
		t.Fatalf("conflict message %q", r.message())
	}
	e.must(200, e.do("GET", base+"/billing", e.admin, nil))
	r = e.must(200, e.do("GET", base, e.admin, nil))
	names := map[string]bool{}
	for _, g := range r.json["value"].([]any) {
		names[g.(map[string]any)["name"].(string)] = true
	}
	if !names["$Default"] || !names["billing"] {
		t.Fatalf("groups %v", names)
	}
	e.must(200, e.do("DELETE", base+"/billing", e.admin, nil))
	e.must(404, e.do("GET", base+"/billing", e.admin, nil))
	e.must(404, e.do("GET", "/namespaces/space1/eventhubs/nohub/consumergroups", e.admin, nil))
}

func TestAuthorizationRules(t *testing.T) {
	e := newEnv(t, false)
	e.setup("space1", "orders", 2)
	for _, base := range []string{"/namespaces/space1/authorizationRules", "/namespaces/space1/eventhubs/orders/authorizationRules"} {
		r := e.must(201, e.do("PUT", base+"/sender", e.admin, `{"properties":{"rights":["send"]}}`))
		if rights := r.json["properties"].(map[string]any)["rights"].([]any); len(rights) != 1 || rights[0] != "Send" {
			t.Fatalf("%s rights %v", base, rights)
		}
		e.must(200, e.do("PUT", base+"/sender", e.admin, `{"properties":{"rights":["Send","Listen"]}}`))
		r = e.must(200, e.do("GET", base+"/sender", e.admin, nil))
		if rights := r.json["properties"].(map[string]any)["rights"].([]any); len(rights) != 2 {
			t.Fatalf("updated rights %v", rights)
		}
		e.must(400, e.do("PUT", base+"/bad", e.admin, `{"properties":{"rights":["Fly"]}}`))
		r = e.must(200, e.do("POST", base+"/sender/listKeys", e.admin, nil))
		k1 := r.json["primaryKey"].(string)
		cs := r.json["primaryConnectionString"].(string)
		wantCS := "Endpoint=sb://space1/;SharedAccessKeyName=sender;SharedAccessKey=" + k1
		if strings.Contains(base, "eventhubs") {
			wantCS += ";EntityPath=orders"
		}
		if cs != wantCS {
			t.Fatalf("connection string %q, want %q", cs, wantCS)
		}
		r = e.must(200, e.do("POST", base+"/sender/regenerateKeys", e.admin, `{"keyType":"PrimaryKey"}`))
		if r.json["primaryKey"] == k1 || r.json["secondaryKey"] == "" {
			t.Fatalf("regenerate did not replace the primary key: %s", r.raw)
		}
		e.must(400, e.do("POST", base+"/sender/regenerateKeys", e.admin, `{"keyType":"TertiaryKey"}`))
		r = e.must(200, e.do("GET", base, e.admin, nil))
		if len(r.json["value"].([]any)) < 1 {
			t.Fatalf("list %s", r.raw)
		}
		e.must(200, e.do("DELETE", base+"/sender", e.admin, nil))
		e.must(404, e.do("GET", base+"/sender", e.admin, nil))
	}
	r := e.must(200, e.do("GET", "/namespaces/space1/authorizationRules", e.admin, nil))
	if !strings.Contains(string(r.raw), "RootManageSharedAccessKey") {
		t.Fatalf("namespace rules lack the root rule: %s", r.raw)
	}
}

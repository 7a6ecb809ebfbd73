package main

import (
	"bufio"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// exportedMetrics returns the chatr_* names package metrics registers
// (its string literals), and whether it registers the Go and process
// collectors.
func exportedMetrics(t *testing.T) (names map[string]bool, runtime bool) {
	t.Helper()
	names = map[string]bool{}
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join("..", "..", "metrics", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("metrics sources: %v", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); err == nil && strings.HasPrefix(s, "chatr_") {
					names[s] = true
				}
			case *ast.SelectorExpr:
				runtime = runtime || n.Sel.Name == "NewGoCollector"
			}
			return true
		})
	}
	return names, runtime
}

var metricName = regexp.MustCompile(`\b(chatr_[a-z0-9_]+|go_[a-z0-9_]+|process_[a-z0-9_]+)`)

// checkNames fails for a metric the expression names that Chatr does not
// export (a histogram's _bucket, _count and _sum series count as its own).
func checkNames(t *testing.T, where, expr string, names map[string]bool, runtime bool) {
	t.Helper()
	for _, m := range metricName.FindAllString(expr, -1) {
		if !strings.HasPrefix(m, "chatr_") {
			if !runtime {
				t.Errorf("%s: %s needs the Go and process collectors", where, m)
			}
			continue
		}
		base := m
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			base = strings.TrimSuffix(base, suffix)
		}
		if !names[m] && !names[base] {
			t.Errorf("%s: metric %s is not exported by package metrics", where, m)
		}
	}
}

func TestGrafanaDashboard(t *testing.T) {
	names, runtime := exportedMetrics(t)
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string
		UID    string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) < 5 {
		t.Fatalf("dashboard: title %q, uid %q, %d panels", d.Title, d.UID, len(d.Panels))
	}
	shown := map[string]bool{}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			checkNames(t, "panel "+p.Title, q.Expr, names, runtime)
			for _, m := range metricName.FindAllString(q.Expr, -1) {
				shown[strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_count")] = true
			}
		}
	}
	for name := range names {
		if !shown[name] {
			t.Errorf("the dashboard does not show %s", name)
		}
	}
}

// TestAlertRules reads deploy/alerts.yml (the Prometheus rule file shape:
// groups, rules with alert, expr, for, labels and annotations).
func TestAlertRules(t *testing.T) {
	names, runtime := exportedMetrics(t)
	f, err := os.Open(filepath.Join("..", "..", "deploy", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type rule struct{ name, expr, severity, summary string }
	var rules []*rule
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if strings.Contains(sc.Text(), "\t") {
			t.Fatalf("alerts.yml has a tab: %q", sc.Text())
		}
		k, v, _ := strings.Cut(strings.TrimPrefix(line, "- "), ":")
		v = strings.TrimSpace(v)
		switch k {
		case "alert":
			rules = append(rules, &rule{name: v})
		case "expr", "severity", "summary":
			if len(rules) == 0 {
				t.Fatalf("%s before the first alert", k)
			}
			r := rules[len(rules)-1]
			*map[string]*string{"expr": &r.expr, "severity": &r.severity, "summary": &r.summary}[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"ChatrStorageErrors": false, "ChatrSlowConsumersCutOff": false, "ChatrRedisDown": false}
	for _, r := range rules {
		if r.expr == "" || r.severity == "" || r.summary == "" {
			t.Errorf("alert %s lacks expr, severity or summary: %+v", r.name, r)
		}
		checkNames(t, "alert "+r.name, r.expr, names, runtime)
		if _, ok := want[r.name]; ok {
			want[r.name] = true
		}
	}
	for name, found := range want {
		if !found {
			t.Errorf("no alert %s", name)
		}
	}
}

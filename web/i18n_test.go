package web_test

import (
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"
)

// catalogue reads the keys of one language of app/i18n.js ("const en = {"
// to its closing "};").
func catalogue(t *testing.T, src, lang string) map[string]bool {
	t.Helper()
	start := strings.Index(src, "\nconst "+lang+" = {\n")
	if start < 0 {
		t.Fatalf("i18n.js has no catalogue %q", lang)
	}
	body := src[start:]
	body = body[:strings.Index(body, "\n};\n")]
	keys := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  '([^']+)':`).FindAllStringSubmatch(body, -1) {
		keys[m[1]] = true
	}
	return keys
}

// TestCatalogueHasEveryText: every key the app's modules name (a string
// literal "<section>.<name>" of a section the catalogue has) is in the
// English and the German catalogue, and the two have the same keys.
func TestCatalogueHasEveryText(t *testing.T) {
	b, err := os.ReadFile("app/i18n.js")
	if err != nil {
		t.Fatal(err)
	}
	en, de := catalogue(t, string(b), "en"), catalogue(t, string(b), "de")
	if len(en) < 100 {
		t.Fatalf("the English catalogue has %d keys", len(en))
	}
	for k := range en {
		if !de[k] {
			t.Errorf("%q is in English only", k)
		}
	}
	for k := range de {
		if !en[k] {
			t.Errorf("%q is in German only", k)
		}
	}
	sections := map[string]bool{}
	for k := range en {
		sections[strings.SplitN(k, ".", 2)[0]] = true
	}
	literal := regexp.MustCompile(`'([a-zA-Z]+)\.([a-zA-Z.]*[a-zA-Z])'`)
	used := 0
	err = fs.WalkDir(os.DirFS("app"), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".js") || path == "i18n.js" {
			return err
		}
		src, err := os.ReadFile("app/" + path)
		if err != nil {
			return err
		}
		for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
			if !sections[m[1]] {
				continue
			}
			used++
			if key := m[1] + "." + m[2]; !en[key] {
				t.Errorf("%s names %q, which the catalogue lacks", path, key)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if used < 200 {
		t.Errorf("the app names %d texts of the catalogue: the pattern no longer finds them", used)
	}
	// The keys put together at run time have their sections.
	for _, prefix := range []string{"loading.", "error.", "settings.theme.", "settings.notify.", "settings.density.", "presence.", "signin.error.", "invite."} {
		found := false
		for k := range en {
			found = found || strings.HasPrefix(k, prefix)
		}
		if !found {
			t.Errorf("no key starts with %q", prefix)
		}
	}
}

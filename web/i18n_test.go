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
	for _, prefix := range []string{"loading.", "error.", "settings.theme.", "settings.notify.", "settings.density.", "presence.", "signin.error.", "invite.", "integrations.scope."} {
		found := false
		for k := range en {
			found = found || strings.HasPrefix(k, prefix)
		}
		if !found {
			t.Errorf("no key starts with %q", prefix)
		}
	}
}

// TestModulesHaveNoTexts: the modules take every text from the catalogue.
// No words in what h() renders, in the attributes a person reads or hears
// (placeholder, title, aria-label, aria-description, alt, label), in what
// is written into the page (.textContent, .title, setAttribute), and no
// sentence anywhere (an error's fallback, a helper's label). A catalogue
// key is no text, nor the app's name.
func TestModulesHaveNoTexts(t *testing.T) {
	b, err := os.ReadFile("app/i18n.js")
	if err != nil {
		t.Fatal(err)
	}
	keys := catalogue(t, string(b), "en")
	err = fs.WalkDir(os.DirFS("app"), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".js") || path == "i18n.js" {
			return err
		}
		src, err := os.ReadFile("app/" + path)
		if err != nil {
			return err
		}
		for _, tok := range moduleTexts(string(src), keys) {
			t.Errorf("%s:%d: %q is a text: put it in i18n.js and use t()", path, tok.line, tok.text)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestModuleTexts: what moduleTexts takes for a text, and what not.
func TestModuleTexts(t *testing.T) {
	keys := map[string]bool{"x.close": true}
	for _, c := range []struct {
		name, src string
		want      []string
	}{
		{"child", `h('p', 'Hello there')`, []string{"Hello there"}},
		{"child after props", `h('span', { class: 'tag is-info' }, 'bot')`, []string{"bot"}},
		{"in a list and a choice", `h('span', [h('strong', 'Off'), ' ', x ? 'revoked' : 'since ' + d])`, []string{"Off", "revoked", "since "}},
		{"template", "h('p', `URL of ${name}`)", []string{"URL of "}},
		{"fallback in a template", "h('span', `${size} · ${type || 'file'}`)", []string{"file"}},
		{"placeholder", `h('input', { id: 'n', placeholder: 'What it is for' })`, []string{"What it is for"}},
		{"aria-label", `h('button', { 'aria-label': 'Close', onClick: close })`, []string{"Close"}},
		{"textContent", `el.textContent = 'Copied';`, []string{"Copied"}},
		{"setAttribute", `el.setAttribute('aria-label', 'Image')`, []string{"Image"}},
		{"sentence", `s.error = 'Give the token a name';`, []string{"Give the token a name"}},
		{"sentence in a helper", `item('x', 'key', 'Chat settings')`, []string{"Chat settings"}},
		{"label of a helper", `field('n', 'Name (shown on its replies)', 'name')`, []string{"Name (shown on its replies)"}},
		{"catalogue", `h('p', { class: 'help is-danger', role: 'alert', title: t('x.close') }, t('x.close', { n: 1 }))`, nil},
		{"key", `h('button', { 'aria-label': 'x.close' })`, nil},
		{"compared", `h('span', m.role === 'owner' ? t('x.close') : null)`, nil},
		{"name", `h('h1', { class: 'title is-3' }, 'Chatr')`, nil},
		{"call arguments", `h('p', [icon('link', { size: 14 }), h(Box, { label: name })])`, nil},
		{"data of a list", "h('div', [...[['public', t('x.close')]].map(([v, label]) => h('label', label))])", nil},
		{"no letters", `h('span', ['@' + handle, ' · ', '(', n, ')'])`, nil},
		{"regex", `const re = /['"]+/; h('p', name)`, nil},
		{"comment", "// h('p', 'Hello there')\n/* h('p', 'Hello') */", nil},
		{"lower-case word", `const kind = 'direct message';`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, tok := range moduleTexts(c.src, keys) {
				got = append(got, tok.text)
			}
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// textAttributes are the attributes whose value a person reads or hears.
var textAttributes = map[string]bool{"placeholder": true, "title": true, "aria-label": true, "aria-description": true, "alt": true, "label": true}

// domTexts are the properties through which a module writes text into the page.
var domTexts = map[string]bool{"textContent": true, "innerText": true, "title": true, "placeholder": true}

// notTexts are words that read the same in every language.
var notTexts = map[string]bool{"Chatr": true}

var (
	textWord = regexp.MustCompile(`[A-Za-z]{2,}`)
	// textSentence begins as a sentence does: a capitalised word, a space
	// and another word ("Could not …", "A token lets …"); class names,
	// selectors, keys and error names do not.
	textSentence = regexp.MustCompile(`^\s*[A-Z][a-z]*\s+[("“]?[A-Za-z]{2,}`)
)

// moduleTexts finds the texts a module holds itself (see
// TestModulesHaveNoTexts), in the order they come.
func moduleTexts(src string, keys map[string]bool) []jsToken {
	toks := jsTokens(src)
	isText := func(s string) bool {
		if keys[s] {
			return false
		}
		for _, w := range textWord.FindAllString(s, -1) {
			if !notTexts[w] {
				return true
			}
		}
		return false
	}
	found := map[int]bool{}
	// scan marks the strings of the expression toks[from:to] that end up in
	// the text: not those passed to a call, kept in an object or compared.
	scan := func(from, to int) {
		for j := from; j < to; j++ {
			tok := toks[j]
			switch {
			case jsOpaque(toks, j):
				j = jsClosing(toks, j)
			case tok.kind == 's' && isText(tok.text) && !jsCompared(toks, j):
				found[j] = true
			}
		}
	}
	for i, tok := range toks {
		next := func(s string) bool { return i+1 < len(toks) && toks[i+1].kind == 'p' && toks[i+1].text == s }
		prev := func(s string) bool { return i > 0 && toks[i-1].kind == 'p' && toks[i-1].text == s }
		switch {
		case tok.kind == 'n' && tok.text == "h" && next("(") && !prev("."):
			// h(tag, props, children...): the props are an object, if any.
			args := jsArguments(toks, i+1)
			children := 1
			if len(args) > 1 && toks[args[1][0]].text == "{" {
				children = 2
			}
			for _, a := range args[min(children, len(args)):] {
				scan(a[0], a[1])
			}
		case tok.kind != 'p' && textAttributes[tok.text] && next(":"):
			scan(i+2, jsValueEnd(toks, i+2))
		case tok.kind == 'n' && domTexts[tok.text] && prev(".") && next("="):
			scan(i+2, jsValueEnd(toks, i+2))
		case tok.kind == 'n' && tok.text == "setAttribute" && next("("):
			args := jsArguments(toks, i+1)
			if len(args) == 2 && args[0][1]-args[0][0] == 1 && textAttributes[toks[args[0][0]].text] {
				scan(args[1][0], args[1][1])
			}
		case tok.kind == 's' && textSentence.MatchString(tok.text) && isText(tok.text):
			found[i] = true
		}
	}
	var out []jsToken
	for i, tok := range toks {
		if found[i] {
			out = append(out, tok)
		}
	}
	return out
}

// TestDateFormatsNamedOnce: i18n.js caches an Intl.DateTimeFormat per
// language and name, so two calls that give one name different options get
// whichever was made first (the day separators once showed "last seen"'s
// short dates). Each name has one set of options.
func TestDateFormatsNamedOnce(t *testing.T) {
	call := regexp.MustCompile(`dateFormat\('([^']+)',\s*(\{[^}]*\})`)
	seen := map[string]string{}
	err := fs.WalkDir(os.DirFS("app"), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".js") {
			return err
		}
		src, err := os.ReadFile("app/" + path)
		if err != nil {
			return err
		}
		for _, m := range call.FindAllStringSubmatch(string(src), -1) {
			name, opts := m[1], strings.Join(strings.Fields(m[2]), " ")
			if prev, ok := seen[name]; ok && prev != opts {
				t.Errorf("%s: dateFormat(%q) with %s, but elsewhere with %s", path, name, opts, prev)
			}
			seen[name] = opts
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 3 {
		t.Fatalf("found %d dateFormat names; the pattern no longer matches the modules", len(seen))
	}
}

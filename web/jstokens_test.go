package web_test

import "strings"

// jsToken is one token of a JavaScript module, as much as the texts test
// needs: a string (a quoted literal, or a fixed part of a template
// literal), a name (numbers too), or punctuation. Comments and regular
// expressions are dropped.
type jsToken struct {
	kind byte // 's' string, 'n' name, 'p' punctuation
	text string
	line int
}

// jsTokens splits a module into tokens. A template literal's ${...} comes
// as "(", the tokens of its expression, ")": an expression like any other
// in the text the template makes.
func jsTokens(src string) []jsToken {
	l := &jsLexer{src: src, line: 1}
	l.run(false)
	return l.out
}

type jsLexer struct {
	src  string
	i    int
	line int
	out  []jsToken
}

// jsPunctuation are the operators of more than one character the test
// tells apart (comparisons and arrows); any other is one character.
var jsPunctuation = []string{"===", "!==", "...", "=>", "==", "!=", "&&", "||", "??", "?."}

// jsBeforeExpression are the names after which a "/" starts a regular
// expression rather than a division.
var jsBeforeExpression = map[string]bool{"return": true, "typeof": true, "case": true, "in": true, "of": true, "new": true, "delete": true, "void": true, "throw": true, "else": true, "do": true}

func (l *jsLexer) emit(kind byte, text string) {
	l.out = append(l.out, jsToken{kind, text, l.line})
}

// run reads tokens to the end of the source or, inside a template's ${, to
// the "}" that closes it.
func (l *jsLexer) run(inTemplate bool) {
	depth := 0
	for l.i < len(l.src) {
		c := l.src[l.i]
		rest := l.src[l.i:]
		switch {
		case c == '\n':
			l.line++
			l.i++
		case c == ' ' || c == '\t' || c == '\r':
			l.i++
		case strings.HasPrefix(rest, "//"):
			end := strings.IndexByte(rest, '\n')
			if end < 0 {
				end = len(rest)
			}
			l.i += end
		case strings.HasPrefix(rest, "/*"):
			end := strings.Index(rest, "*/")
			if end < 0 {
				end = len(rest) - 2
			}
			l.line += strings.Count(rest[:end], "\n")
			l.i += end + 2
		case c == '/' && l.regexAllowed():
			l.skipRegex()
		case c == '\'' || c == '"':
			l.quoted(c)
		case c == '`':
			l.template()
		case c == '{':
			depth++
			l.emit('p', "{")
			l.i++
		case c == '}' && inTemplate && depth == 0:
			l.i++
			return
		case c == '}':
			depth--
			l.emit('p', "}")
			l.i++
		case jsNameByte(c):
			end := 1
			for end < len(rest) && jsNameByte(rest[end]) {
				end++
			}
			l.emit('n', rest[:end])
			l.i += end
		default:
			p := rest[:1]
			for _, op := range jsPunctuation {
				if strings.HasPrefix(rest, op) {
					p = op
					break
				}
			}
			l.emit('p', p)
			l.i += len(p)
		}
	}
}

func jsNameByte(c byte) bool {
	return c == '_' || c == '$' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// regexAllowed: a "/" here begins a regular expression (after an operator,
// an opening bracket or a keyword), not a division (after a value).
func (l *jsLexer) regexAllowed() bool {
	if len(l.out) == 0 {
		return true
	}
	last := l.out[len(l.out)-1]
	switch last.kind {
	case 's':
		return false
	case 'n':
		return jsBeforeExpression[last.text]
	}
	return last.text != ")" && last.text != "]" && last.text != "}"
}

func (l *jsLexer) skipRegex() {
	l.i++
	inClass := false
	for l.i < len(l.src) && l.src[l.i] != '\n' {
		c := l.src[l.i]
		l.i++
		switch {
		case c == '\\':
			l.i++
		case c == '[':
			inClass = true
		case c == ']':
			inClass = false
		case c == '/' && !inClass:
			for l.i < len(l.src) && jsNameByte(l.src[l.i]) {
				l.i++ // the flags
			}
			return
		}
	}
}

// quoted reads a '...' or "..." literal; escapes stay as written.
func (l *jsLexer) quoted(q byte) {
	start, line := l.i+1, l.line
	l.i++
	for l.i < len(l.src) && l.src[l.i] != q && l.src[l.i] != '\n' {
		if l.src[l.i] == '\\' {
			l.i++
		}
		l.i++
	}
	l.out = append(l.out, jsToken{'s', l.src[start:min(l.i, len(l.src))], line})
	l.i++
}

// template reads a `...` literal: each fixed part is a string, each ${...}
// its tokens in brackets.
func (l *jsLexer) template() {
	l.i++
	var part strings.Builder
	for l.i < len(l.src) {
		c := l.src[l.i]
		switch {
		case c == '\\' && l.i+1 < len(l.src):
			part.WriteString(l.src[l.i : l.i+2])
			l.i += 2
		case c == '`':
			l.i++
			l.emit('s', part.String())
			return
		case strings.HasPrefix(l.src[l.i:], "${"):
			l.emit('s', part.String())
			part.Reset()
			l.emit('p', "(")
			l.i += 2
			l.run(true)
			l.emit('p', ")")
		default:
			if c == '\n' {
				l.line++
			}
			part.WriteByte(c)
			l.i++
		}
	}
	l.emit('s', part.String())
}

// jsKeywords are the names a "(" after is not a call.
var jsKeywords = map[string]bool{"if": true, "for": true, "while": true, "switch": true, "catch": true, "return": true, "typeof": true, "await": true, "in": true, "of": true}

// jsCall: the "(" (or "[") at i calls (or indexes) what comes before it.
func jsCall(toks []jsToken, i int) bool {
	if i == 0 {
		return false
	}
	p := toks[i-1]
	return p.kind == 'n' && !jsKeywords[p.text] || p.kind == 'p' && (p.text == ")" || p.text == "]")
}

// jsOpaque: the bracket at i holds what is not part of the value around
// it: the arguments of a call, an index, the data of a method called on a
// list, an object or a block.
func jsOpaque(toks []jsToken, i int) bool {
	if toks[i].kind != 'p' {
		return false
	}
	switch toks[i].text {
	case "(":
		return jsCall(toks, i)
	case "[": // a[i], f(x)[0], or a list whose method is called: [...].map(f)
		end := jsClosing(toks, i)
		return jsCall(toks, i) || end+1 < len(toks) && toks[end+1].kind == 'p' && (toks[end+1].text == "." || toks[end+1].text == "?.")
	}
	return toks[i].text == "{"
}

func jsOpens(t jsToken) bool {
	return t.kind == 'p' && (t.text == "(" || t.text == "[" || t.text == "{")
}
func jsCloses(t jsToken) bool {
	return t.kind == 'p' && (t.text == ")" || t.text == "]" || t.text == "}")
}

// jsClosing is the index of the bracket that closes the one at i.
func jsClosing(toks []jsToken, i int) int {
	depth := 0
	for j := i; j < len(toks); j++ {
		if jsOpens(toks[j]) {
			depth++
		} else if jsCloses(toks[j]) {
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return len(toks) - 1
}

// jsArguments are the [from, to) token ranges of the arguments of the call
// whose "(" is at open.
func jsArguments(toks []jsToken, open int) [][2]int {
	end := jsClosing(toks, open)
	var args [][2]int
	from, depth := open+1, 0
	for j := open + 1; j < end; j++ {
		switch {
		case jsOpens(toks[j]):
			depth++
		case jsCloses(toks[j]):
			depth--
		case depth == 0 && toks[j].kind == 'p' && toks[j].text == ",":
			args = append(args, [2]int{from, j})
			from = j + 1
		}
	}
	if from < end {
		args = append(args, [2]int{from, end})
	}
	return args
}

// jsValueEnd is where the expression from i ends: at a "," or ";" of its
// level, or at the bracket that closes the list or object it is in.
func jsValueEnd(toks []jsToken, i int) int {
	depth := 0
	for j := i; j < len(toks); j++ {
		switch {
		case jsOpens(toks[j]):
			depth++
		case jsCloses(toks[j]):
			if depth == 0 {
				return j
			}
			depth--
		case depth == 0 && toks[j].kind == 'p' && (toks[j].text == "," || toks[j].text == ";"):
			return j
		}
	}
	return len(toks)
}

// jsCompared: the string at i is an operand of a comparison (a key, a
// role), not a text.
func jsCompared(toks []jsToken, i int) bool {
	is := func(j int) bool {
		if j < 0 || j >= len(toks) || toks[j].kind != 'p' {
			return false
		}
		switch toks[j].text {
		case "===", "!==", "==", "!=":
			return true
		}
		return false
	}
	return is(i-1) || is(i+1)
}

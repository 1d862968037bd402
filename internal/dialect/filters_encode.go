package dialect

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Encoding filters: HTML and URL escapes, base64, digests and JSON.

func init() {
	text := func(name string, f func(string) (string, error)) {
		register(name, 0, 0, func(fa *filterArgs, in any) (any, error) {
			if in == nil {
				return nil, nil
			}
			s, err := fa.text(in)
			if err != nil {
				return nil, err
			}
			out, err := f(s)
			if err != nil {
				return nil, err
			}
			return fa.result(out)
		})
	}
	plainText := func(f func(string) string) func(string) (string, error) {
		return func(s string) (string, error) { return f(s), nil }
	}
	text("escape", plainText(htmlEscaper.Replace))
	text("h", plainText(htmlEscaper.Replace))
	text("xml_escape", plainText(htmlEscaper.Replace))
	text("escape_once", plainText(escapeOnce))
	text("url_encode", plainText(url.QueryEscape))
	text("cgi_escape", plainText(url.QueryEscape))
	text("uri_escape", plainText(uriEscape))
	text("url_decode", urlDecode)
	std := func(enc *base64.Encoding) func(string) (string, error) {
		return func(s string) (string, error) { return enc.EncodeToString([]byte(s)), nil }
	}
	text("base64_encode", std(base64.StdEncoding))
	text("base64", std(base64.StdEncoding))
	text("base64_url_safe_encode", std(base64.URLEncoding))
	text("base64_decode", decode64(base64.StdEncoding, base64.RawStdEncoding))
	text("base64_url_safe_decode", decode64(base64.URLEncoding, base64.RawURLEncoding))
	text("hex_base64", func(s string) (string, error) {
		b, err := hex.DecodeString(s)
		if err != nil {
			return "", errors.New("not hexadecimal")
		}
		return base64.StdEncoding.EncodeToString(b), nil
	})
	digest := func(h func() hash.Hash) func(string) (string, error) {
		return func(s string) (string, error) {
			d := h()
			d.Write([]byte(s))
			return hex.EncodeToString(d.Sum(nil)), nil
		}
	}
	text("md5", digest(md5.New))
	text("sha1", digest(sha1.New))
	text("sha256", digest(sha256.New))
	mac := func(h func() hash.Hash) func(fa *filterArgs, in any) (any, error) {
		return func(fa *filterArgs, in any) (any, error) {
			s, err := fa.text(in)
			if err != nil {
				return nil, err
			}
			k, err := fa.argText(0)
			if err != nil {
				return nil, err
			}
			m := hmac.New(h, []byte(k))
			m.Write([]byte(s))
			return hex.EncodeToString(m.Sum(nil)), nil
		}
	}
	register("hmac_sha1", 1, 1, mac(sha1.New))
	register("hmac_sha256", 1, 1, mac(sha256.New))
	register("to_json", 0, 1, filterJSON)
	register("jsonify", 0, 1, filterJSON)
	register("inspect", 0, 0, func(fa *filterArgs, in any) (any, error) {
		b, err := appendInspect(nil, in, fa.st.max, 0)
		if err != nil {
			return nil, fa.st.run.fail(err)
		}
		return fa.result(string(b))
	})
	register("from_json", 0, 0, fromJSON)
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

var entity = regexp.MustCompile(`&(?:[a-zA-Z][a-zA-Z0-9]*|#[0-9]+|#[xX][0-9a-fA-F]+);`)

// escapeOnce escapes HTML but leaves entities that are already escaped.
func escapeOnce(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range entity.FindAllStringIndex(s, -1) {
		b.WriteString(htmlEscaper.Replace(s[last:m[0]]))
		b.WriteString(s[m[0]:m[1]])
		last = m[1]
	}
	b.WriteString(htmlEscaper.Replace(s[last:]))
	return b.String()
}

// uriEscape escapes what may not appear in a URI, keeping its reserved
// characters (/, ?, &, =, ...).
func uriEscape(s string) string {
	const keep = "-_.!~*'()" + ";/?:@&=+$,#[]"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isWordByte(c) && c != '_' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

// urlDecode decodes %XX and + as Ruby's CGI.unescape does, keeping
// malformed escapes as they are.
func urlDecode(s string) (string, error) {
	if !strings.ContainsAny(s, "%+") {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			v, _ := hex.DecodeString(s[i+1 : i+3])
			b = append(b, v[0])
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b), nil
}

func isHex(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func decode64(encs ...*base64.Encoding) func(string) (string, error) {
	return func(s string) (string, error) {
		for _, enc := range encs {
			if b, err := enc.DecodeString(trimSpace(s)); err == nil {
				if !utf8.Valid(b) {
					return "", errors.New("decoded base64 is not UTF-8 text")
				}
				return string(b), nil
			}
		}
		return "", errors.New("not valid base64")
	}
}

// fromJSON parses JSON text into a value, numbers as ParseData makes
// them: integers that fit as int, others as float64.
func fromJSON(fa *filterArgs, in any) (any, error) {
	s, err := fa.text(in)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errors.New("not valid JSON")
	}
	return fromJSONNumbers(fa, v, 0)
}

func fromJSONNumbers(fa *filterArgs, v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	var err error
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return number{i: n}.value(), nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, errors.New("a number in the JSON is out of range")
		}
		return f, nil
	case map[string]any:
		for k, item := range x {
			if x[k], err = fromJSONNumbers(fa, item, depth+1); err != nil {
				return nil, err
			}
		}
	case []any:
		if err := fa.st.run.checkLen(len(x)); err != nil {
			return nil, err
		}
		for i, item := range x {
			if x[i], err = fromJSONNumbers(fa, item, depth+1); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

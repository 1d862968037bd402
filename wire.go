package webhook

import (
	"bufio"
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

// writeRequest writes req as (*http.Request).Write does, byte for byte, for
// the requests a Sender makes: a method of its five, a plain ASCII host, a
// known length, valid header names and values with no line breaks or
// surrounding space. Anything else goes to Request.Write. Request.Write
// formats with fmt and sorts through a pool: 2.4 µs and 8 allocations for
// a signed request, against 0.9 µs and 1 here (BenchmarkWriteRequest).
//
// Write errors are not checked as they happen: bufio.Writer keeps the
// first, and the caller's Flush returns it.
func writeRequest(bw *bufio.Writer, req *http.Request) error {
	if !plainRequest(req) {
		return req.Write(bw)
	}
	// The request target as URL.RequestURI makes it, without building it.
	path := req.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	query := req.URL.ForceQuery || req.URL.RawQuery != ""
	if hasControl(path) || hasControl(req.URL.RawQuery) {
		return req.Write(bw) // which refuses it
	}
	ua, hasUA := "Go-http-client/1.1", false
	var names []string
	var buf [16]string
	names = buf[:0]
	for name, values := range req.Header {
		switch name {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		case "User-Agent":
			hasUA = true
			ua = ""
			if len(values) > 0 {
				ua = values[0]
			}
			continue
		}
		if !plainHeader(name, values) {
			return req.Write(bw)
		}
		names = append(names, name)
	}
	if hasUA && !plainHeaderValue(ua) {
		return req.Write(bw)
	}
	slices.Sort(names)

	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	bw.WriteString(path)
	if query {
		bw.WriteByte('?')
		bw.WriteString(req.URL.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(requestHost(req))
	bw.WriteString("\r\n")
	if ua != "" {
		bw.WriteString("User-Agent: ")
		bw.WriteString(ua)
		bw.WriteString("\r\n")
	}
	switch {
	case req.ContentLength > 0, req.Method == http.MethodPost, req.Method == http.MethodPut, req.Method == http.MethodPatch:
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(req.ContentLength, 10))
		bw.WriteString("\r\n")
	}
	for _, name := range names {
		for _, v := range req.Header[name] {
			bw.WriteString(name)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("\r\n")
	if req.ContentLength == 0 {
		closeBody(req)
		return nil
	}
	// The request fails whole, its connection closed, if the body is not
	// the length declared.
	n, err := bw.ReadFrom(req.Body)
	if err == nil && n != req.ContentLength {
		err = fmt.Errorf("webhook: request body of %d bytes, ContentLength %d", n, req.ContentLength)
	}
	if cerr := req.Body.Close(); err == nil {
		err = cerr
	}
	return err
}

// plainRequest reports whether req is one writeRequest writes itself.
func plainRequest(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return false
	}
	if req.URL == nil || req.URL.Opaque != "" || req.Close ||
		req.TransferEncoding != nil || req.Trailer != nil {
		return false
	}
	switch {
	case req.ContentLength > 0:
		if req.Body == nil || req.Body == http.NoBody {
			return false
		}
	case req.ContentLength == 0:
		if req.Body != nil && req.Body != http.NoBody {
			return false
		}
	default:
		return false
	}
	host := requestHost(req)
	if host == "" {
		return false
	}
	for i := 0; i < len(host); i++ {
		switch c := host[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '-', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}

// requestHost is the host Request.Write puts in the Host header.
func requestHost(req *http.Request) string {
	if req.Host != "" {
		return req.Host
	}
	return req.URL.Host
}

// plainHeader reports whether Request.Write would write name and values
// as they are: a valid name, and values with no control character and no
// space or tab at either end.
func plainHeader(name string, values []string) bool {
	if checkHeaderName(name) != nil {
		return false
	}
	for _, v := range values {
		if !plainHeaderValue(v) {
			return false
		}
	}
	return true
}

// plainHeaderValue reports whether Request.Write would write v as it is: no
// control character, and no space or tab at either end.
func plainHeaderValue(v string) bool {
	if v == "" {
		return true
	}
	if c := v[0]; c == ' ' || c == '\t' {
		return false
	}
	if c := v[len(v)-1]; c == ' ' || c == '\t' {
		return false
	}
	return !hasControl(v)
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return true
		}
	}
	return false
}

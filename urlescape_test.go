package webhook

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leadsURL is a URL that prints data into a path segment and a query
// value.
const leadsURL = "https://api.example.com/v1/leads/{{ customer.id }}?src=app&tag={{ customer.tag }}"

// TestURLValuesStayWhereTheyArePrinted: a value printed into a URL stays
// inside the path segment, query parameter, userinfo or host it was
// printed in.
func TestURLValuesStayWhereTheyArePrinted(t *testing.T) {
	customer := func(id, tag string) map[string]any {
		return map[string]any{"customer": map[string]any{"id": id, "tag": tag, "name": "a b&c", "enc": "a%20b", "region": "eu", "port": 8443, "v6": "2001:db8::1"}}
	}
	cases := []struct {
		name    string
		url     string
		data    map[string]any
		want    string
		auth    string // the Authorization header, when the URL has userinfo
		wantErr error
		errHas  string
	}{
		{name: "plain values", url: leadsURL, data: customer("42", "vip"), want: "https://api.example.com/v1/leads/42?src=app&tag=vip"},
		{name: "an id that climbs the path and adds a query", url: leadsURL, data: customer("../../admin/delete?confirm=1&x=", "vip"),
			want: "https://api.example.com/v1/leads/..%2F..%2Fadmin%2Fdelete%3Fconfirm%3D1%26x%3D?src=app&tag=vip"},
		{name: "an id that cuts off the query", url: leadsURL, data: customer("42#", "vip"), want: "https://api.example.com/v1/leads/42%23?src=app&tag=vip"},
		{name: "a tag that adds a parameter", url: leadsURL, data: customer("42", "a&admin=1"), want: "https://api.example.com/v1/leads/42?src=app&tag=a%26admin%3D1"},
		{name: "a tag with a plus, a space and a fragment", url: leadsURL, data: customer("42", "a+b c#d"), want: "https://api.example.com/v1/leads/42?src=app&tag=a%2Bb%20c%23d"},
		{name: "text beyond ASCII", url: leadsURL, data: customer("Köln", "é"), want: "https://api.example.com/v1/leads/K%C3%B6ln?src=app&tag=%C3%A9"},
		{name: "a value with a percent sign is data", url: leadsURL, data: customer("a%2Fb", "100%"), want: "https://api.example.com/v1/leads/a%252Fb?src=app&tag=100%25"},
		{name: "dots inside a segment", url: leadsURL, data: customer("report.v2..final", "x"), want: "https://api.example.com/v1/leads/report.v2..final?src=app&tag=x"},
		{name: "a value in a parameter's name", url: "https://api.example.com/x?{{ customer.tag }}=1", data: customer("", "a=b&c"), want: "https://api.example.com/x?a%3Db%26c=1"},
		{name: "a value beside text in its segment", url: "https://api.example.com/v1/{{ customer.id }}.json", data: customer("../x", ""), want: "https://api.example.com/v1/..%2Fx.json"},

		{name: "url_encode is not escaped twice", url: "https://api.example.com/s?q={{ customer.name | url_encode }}&e={{ customer.enc | url_encode }}", data: customer("", ""), want: "https://api.example.com/s?q=a+b%26c&e=a%2520b"},
		{name: "cgi_escape is not escaped twice", url: "https://api.example.com/s?q={{ customer.name | cgi_escape }}", data: customer("", ""), want: "https://api.example.com/s?q=a+b%26c"},
		{name: "url_encode in a path keeps its escapes", url: "https://api.example.com/v1/{{ customer.id | url_encode }}", data: customer("c 1/2", ""), want: "https://api.example.com/v1/c+1%2F2"},
		{name: "uri_escape keeps its escapes, not the structure it leaves", url: "https://api.example.com/v1/{{ customer.id | uri_escape }}?q={{ customer.tag | uri_escape }}", data: customer("a/b c", "x&y=z"), want: "https://api.example.com/v1/a%2Fb%20c?q=x%26y%3Dz"},
		{name: "a filter after url_encode escapes again", url: "https://api.example.com/s?q={{ customer.name | url_encode | append: '!' }}", data: customer("", ""), want: "https://api.example.com/s?q=a%2Bb%2526c%21"},

		{name: "userinfo from data", url: "https://{{ customer.id }}:{{ customer.tag }}@api.example.com/v1", data: customer("me@example.com", "p@ss/w#rd:x?"), want: "https://api.example.com/v1",
			auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("me@example.com:p@ss/w#rd:x?"))},
		{name: "a fragment from data is dropped with the fragment", url: "https://api.example.com/v1/{{ customer.id }}#{{ customer.tag }}", data: customer("42#x", "top"), want: "https://api.example.com/v1/42%23x"},
		{name: "an IPv6 host", url: "https://[2001:db8::1]:8443/v1/{{ customer.id }}?t={{ customer.tag }}", data: customer("a/b", "[x]"), want: "https://[2001:db8::1]:8443/v1/a%2Fb?t=%5Bx%5D"},
		{name: "an IPv6 host from data", url: "https://[{{ customer.v6 }}]/v1", data: customer("", ""), want: "https://[2001:db8::1]/v1"},
		{name: "a host and a port from data", url: "https://{{ customer.region }}.api.example.com:{{ customer.port }}/v1/{{ customer.id }}", data: customer("7", ""), want: "https://eu.api.example.com:8443/v1/7"},
		{name: "a whole URL from data is used as given", url: "{{ customer.id }}", data: customer("https://hooks.example.net/cb/../x?a=1&b=2", ""), want: "https://hooks.example.net/cb/../x?a=1&b=2"},
		{name: "a base URL from data, then values", url: "{{ customer.region }}/leads/{{ customer.id }}?tag={{ customer.tag }}", data: map[string]any{"customer": map[string]any{"region": "https://eu.example.com/v1", "id": "../admin", "tag": "a&b"}},
			want: "https://eu.example.com/v1/leads/..%2Fadmin?tag=a%26b"},
		{name: "a URL from data with a query, then a value", url: "{{ customer.region }}&id={{ customer.id }}", data: map[string]any{"customer": map[string]any{"region": "https://x.example/cb?a=1", "id": "1&admin=1"}},
			want: "https://x.example/cb?a=1&id=1%26admin%3D1"},

		{name: "a .. segment", url: leadsURL, data: customer("..", "x"), wantErr: ErrInvalidURL, errHas: `url: invalid URL: customer.id makes the path segment ".."`},
		{name: "a . segment", url: leadsURL, data: customer(".", "x"), wantErr: ErrInvalidURL, errHas: `customer.id makes the path segment "."`},
		{name: "an empty segment", url: leadsURL, data: customer("", "x"), wantErr: ErrInvalidURL, errHas: `customer.id makes the path segment ""`},
		{name: "a .. segment through url_encode", url: "https://api.example.com/v1/{{ customer.id | url_encode }}/x", data: customer("..", ""), wantErr: ErrInvalidURL, errHas: `customer.id | url_encode makes the path segment ".."`},
		{name: "an encoded .. segment through uri_escape", url: "https://api.example.com/v1/{{ customer.id | uri_escape }}", data: customer("..", ""), wantErr: ErrInvalidURL, errHas: `makes the path segment ".."`},
		{name: "a .. segment of two values", url: "https://api.example.com/v1/{{ customer.id }}{{ customer.tag }}/x", data: customer(".", "."), wantErr: ErrInvalidURL, errHas: `customer.id makes the path segment ".."`},
		{name: "a host that ends early", url: "https://{{ customer.region }}.api.example.com/v1", data: map[string]any{"customer": map[string]any{"region": "evil.example/x?"}}, wantErr: ErrInvalidURL, errHas: "customer.region is printed into the host"},
		{name: "a host with userinfo", url: "https://{{ customer.region }}.api.example.com/v1", data: map[string]any{"customer": map[string]any{"region": "evil.example@x"}}, wantErr: ErrInvalidURL, errHas: "customer.region is printed into the host"},
		{name: "a host that takes the path", url: "https://api.example.com{{ customer.id }}", data: customer("/admin", ""), wantErr: ErrInvalidURL, errHas: "customer.id is printed into the host"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Compile(Spec{URL: tc.url, Method: "GET"})
			require.NoError(t, err)
			r, err := a.Render(tc.data)
			if tc.wantErr != nil {
				require.Error(t, err)
				assert.Nil(t, r)
				assert.ErrorIs(t, err, tc.wantErr)
				var te *TemplateError
				require.ErrorAs(t, err, &te)
				assert.Equal(t, "url", te.Field)
				assert.Contains(t, err.Error(), tc.errHas)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, r.URL)
			assert.Equal(t, tc.auth, r.Header.Get("Authorization"))
			_, err = url.Parse(r.URL)
			assert.NoError(t, err)
		})
	}
}

// TestURLEscapingLeavesHeadersAndBodyAlone: only the URL escapes what it
// prints.
func TestURLEscapingLeavesHeadersAndBodyAlone(t *testing.T) {
	id := "../../admin/delete?confirm=1&x="
	a, err := Compile(Spec{
		URL:     leadsURL,
		Headers: map[string]string{"X-Lead": "{{ customer.id }}", "Content-Type": "text/plain"},
		Body:    "{{ customer.id }} {{ customer.tag }}",
	})
	require.NoError(t, err)
	r, err := a.Render(map[string]any{"customer": map[string]any{"id": id, "tag": "a&b"}})
	require.NoError(t, err)
	assert.Equal(t, id, r.Header.Get("X-Lead"))
	assert.Equal(t, id+" a&b", string(r.Body))
	assert.Equal(t, "https://api.example.com/v1/leads/..%2F..%2Fadmin%2Fdelete%3Fconfirm%3D1%26x%3D?src=app&tag=a%26b", r.URL)
}

// TestURLEscapingInLaxMode: a missing value prints as empty, and a path
// segment it leaves empty fails the render all the same.
func TestURLEscapingInLaxMode(t *testing.T) {
	a, err := (&Compiler{Lax: true}).Compile(Spec{URL: leadsURL, Method: "DELETE"})
	require.NoError(t, err)
	_, err = a.Render(map[string]any{"customer": map[string]any{"tag": "x"}})
	require.ErrorIs(t, err, ErrInvalidURL)
	assert.Contains(t, err.Error(), `customer.id makes the path segment ""`)
	r, err := a.Render(map[string]any{"customer": map[string]any{"id": 7}})
	require.NoError(t, err)
	assert.Equal(t, "https://api.example.com/v1/leads/7?src=app&tag=", r.URL)
}

// FuzzURLValues: whatever the data, the rendered URL keeps the template's
// host, path segments and query parameter names, and each value comes back
// whole where it was printed.
func FuzzURLValues(f *testing.F) {
	for _, seed := range [][4]string{
		{"42", "vip", "user", "pass"},
		{"../../admin/delete?confirm=1&x=", "a&admin=1", "me@example.com", "p@ss/w#rd"},
		{"42#", "a+b c", "", ""},
		{"..", ".", "a:b", "%zz"},
		{"%2e%2e", "%00", "x\r\ny", "é"},
		{"a\x00b", "\xff", "[::1]", "//evil.example"},
		{"", "", "", ""},
		{".", "#", "@", "?"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	a, err := Compile(Spec{
		Method: "GET",
		URL:    "https://{{ c.user }}:{{ c.pass }}@api.example.com/v1/leads/{{ c.id }}/notes?src=app&tag={{ c.tag }}&n={{ c.id | url_encode }}#{{ c.tag }}",
	})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, id, tag, user, pass string) {
		r, err := a.Render(map[string]any{"c": map[string]any{"id": id, "tag": tag, "user": user, "pass": pass}})
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidURL)
			switch {
			case strings.Contains(err.Error(), "makes the path segment"):
				assert.Contains(t, []string{"", ".", ".."}, id)
			case strings.Contains(err.Error(), "credentials"):
				assert.True(t, strings.ContainsFunc(user+pass, func(r rune) bool { return r < ' ' || r == 0x7f }), "%v", err)
			default:
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		u, err := url.Parse(r.URL)
		require.NoError(t, err, r.URL)
		assert.Equal(t, "api.example.com", u.Host)
		assert.Nil(t, u.User)
		segments := strings.Split(u.EscapedPath(), "/")
		require.Len(t, segments, 5, r.URL)
		assert.Equal(t, []string{"", "v1", "leads"}, segments[:3])
		assert.Equal(t, "notes", segments[4])
		got, err := url.PathUnescape(segments[3])
		require.NoError(t, err)
		assert.Equal(t, id, got)

		var names []string
		for _, param := range strings.Split(u.RawQuery, "&") {
			name, _, _ := strings.Cut(param, "=")
			names = append(names, name)
		}
		assert.Equal(t, []string{"src", "tag", "n"}, names, r.URL)
		q, err := url.ParseQuery(u.RawQuery)
		require.NoError(t, err)
		assert.Equal(t, tag, q.Get("tag"))
		assert.Equal(t, id, q.Get("n"))

		assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)), r.Header.Get("Authorization"))
	})
}

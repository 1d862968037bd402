package delivery

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Keys for the tests: A, B and C, each 32 bytes.
var (
	keyA = bytes.Repeat([]byte{0xa1}, 32)
	keyB = bytes.Repeat([]byte{0xb2}, 32)
	keyC = bytes.Repeat([]byte{0xc3}, 32)
)

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

func TestParseKeys(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    [][]byte
		wantErr error
		errHas  string
	}{
		{name: "one key", in: b64(keyA), want: [][]byte{keyA}},
		{name: "two keys, spaces around", in: " " + b64(keyB) + " , " + b64(keyA) + "\n", want: [][]byte{keyB, keyA}},
		{name: "empty", in: "", wantErr: ErrSealKey, errHas: "key 1 of 1 is 0 bytes"},
		{name: "not base64", in: b64(keyA) + ",not*base64", wantErr: ErrSealKey, errHas: "key 2 of 2 is not base64"},
		{name: "16 bytes", in: b64(keyA[:16]), wantErr: ErrSealKey, errHas: "key 1 of 1 is 16 bytes, want 32"},
		{name: "a trailing comma", in: b64(keyA) + ",", wantErr: ErrSealKey, errHas: "key 2 of 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKeys(tc.in)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Contains(t, err.Error(), tc.errHas)
				assert.NotContains(t, err.Error(), b64(keyA)[:8], "the key is never repeated")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestKeyring(t *testing.T) {
	spec := place{id: 7, field: "spec"}
	sealed := newKeyring([][]byte{keyA})
	plain := newKeyring(nil)

	t.Run("round trip", func(t *testing.T) {
		s, err := sealed.sealString(spec, `{"url":"https://u:pw@x"}`)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(s, sealPrefix+keyID(keyA)+":"), s)
		assert.NotContains(t, s, "pw@")
		got, err := sealed.openString(spec, s)
		require.NoError(t, err)
		assert.Equal(t, `{"url":"https://u:pw@x"}`, got)
	})
	t.Run("random nonces", func(t *testing.T) {
		s1, _ := sealed.sealString(spec, "same")
		s2, _ := sealed.sealString(spec, "same")
		assert.NotEqual(t, s1, s2)
	})
	t.Run("an empty value stays empty", func(t *testing.T) {
		s, err := sealed.seal(spec, nil)
		require.NoError(t, err)
		assert.Empty(t, s)
	})
	t.Run("plain values that look sealed are escaped", func(t *testing.T) {
		for _, v := range []string{"lhs1:", "lhs1:abcdef12:AAAA", "lhs1::x"} {
			s, err := plain.sealString(spec, v)
			require.NoError(t, err)
			assert.Equal(t, "lhs1::"+v, s)
			got, err := plain.openString(spec, s)
			require.NoError(t, err)
			assert.Equal(t, v, got)
			got, err = sealed.openString(spec, s)
			require.NoError(t, err, "a queue with keys reads plain values")
			assert.Equal(t, v, got)
		}
	})
	s, err := sealed.sealString(spec, "secret")
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		kr     *keyring
		at     place
		stored string
		errHas string
	}{
		{"no key", plain, spec, s, "delivery 7: spec is sealed (key " + keyID(keyA) + ") and the queue has no key"},
		{"another key", newKeyring([][]byte{keyB}), spec, s, "delivery 7: spec is sealed with key " + keyID(keyA) + ", which is not among the queue's keys"},
		{"another delivery", sealed, place{id: 8, field: "spec"}, s, "delivery 8: spec does not open with key " + keyID(keyA) + ": it was altered, or moved"},
		{"another field", sealed, place{id: 7, field: "data"}, s, "delivery 7: data does not open"},
		{"another attempt", sealed, place{id: 7, field: "spec", series: 1, number: 2}, s, "attempt 1.2 spec does not open"},
		{"altered", sealed, spec, s[:len(s)-2] + "AA", "does not open"},
		{"not base64", sealed, spec, sealPrefix + keyID(keyA) + ":!!", "is not a well-formed sealed value"},
		{"a short key id", sealed, spec, sealPrefix + "abc:AAAA", "is not a well-formed sealed value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.kr.openString(tc.at, tc.stored)
			require.ErrorIs(t, err, ErrSealed)
			var se *SealError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tc.at.id, se.ID)
			assert.Contains(t, err.Error(), tc.errHas)
			assert.NotContains(t, err.Error(), "secret")
		})
	}
	t.Run("a key of the wrong size", func(t *testing.T) {
		kr := newKeyring([][]byte{keyA, keyB[:31]})
		_, err := kr.sealString(spec, "x")
		require.ErrorIs(t, err, ErrSealKey)
		assert.Contains(t, err.Error(), "Queue.Keys[1] is 31 bytes")
	})
	t.Run("the key that sealed is tried among several", func(t *testing.T) {
		got, err := newKeyring([][]byte{keyC, keyB, keyA}).openString(spec, s)
		require.NoError(t, err)
		assert.Equal(t, "secret", got)
	})
}

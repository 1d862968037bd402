package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeJSON(&b, map[string]string{"body": `{"a": "<b> & </b>"}`}))
	assert.Equal(t, "{\n  \"body\": \"{\\\"a\\\": \\\"<b> & </b>\\\"}\"\n}\n", b.String(), "indented, with <, > and & as they are")
}

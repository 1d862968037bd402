package dialect

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEqualAndCompare(t *testing.T) {
	cases := []struct {
		a, b  any
		equal bool
	}{
		{1, 1.0, true}, {int64(3), uint8(3), true}, {"1", 1, false}, {json.Number("7"), "7", true},
		{nil, &undefined{name: "x"}, true}, {[]any{1, "a"}, []string{"x"}, false}, {[]any{1, "a"}, []any{1.0, "a"}, true},
		{map[string]any{"a": 1}, map[string]int{"a": 1}, true}, {rangeValue{1, 3}, rangeValue{1, 3}, true}, {true, 1, false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.equal, equal(tc.a, tc.b), "%#v == %#v", tc.a, tc.b)
		assert.Equal(t, tc.equal, equal(tc.b, tc.a), "%#v == %#v", tc.b, tc.a)
	}
	lt, err := compare("<", 1, 1.5)
	assert.NoError(t, err)
	assert.True(t, lt)
	_, err = compare(">", "2", 1)
	assert.ErrorIs(t, err, ErrTemplate)
	gt, err := compare(">", nil, 1)
	assert.NoError(t, err)
	assert.False(t, gt)
}

func TestTextNumbers(t *testing.T) {
	for in, want := range map[string]any{"12": 12, " 3.5 ": 3.5, "12abc": 12, "-4x": -4, "abc": 0, "1e3": 1} {
		assert.Equal(t, want, textNumber(in).value(), in)
	}
}

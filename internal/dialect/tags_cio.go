package dialect

import (
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"strconv"
)

// Customer.io's own tags that mean something outside its product:
// generate_uuid and random. Both draw on crypto/rand.

type uuidNode struct{}

func parseGenerateUUID(p *parser, tok token) (node, bool, error) {
	if err := noArgs(tok); err != nil {
		return nil, false, err
	}
	return uuidNode{}, false, nil
}

// render prints a random (version 4) UUID.
func (uuidNode) render(st *state) error {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return renderError("generate_uuid: %v", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return st.write(h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:])
}

type randomNode struct {
	limit expr
	line  int
}

// parseRandom reads {% random N %}.
func parseRandom(p *parser, tok token) (node, bool, error) {
	ep, err := newExprParser(tok.args)
	if err != nil {
		return nil, false, exprError(tok, err)
	}
	limit, err := ep.primary()
	if err != nil {
		return nil, false, exprError(tok, err)
	}
	if err := ep.end(); err != nil {
		return nil, false, exprError(tok, err)
	}
	return &randomNode{limit: limit, line: tok.line}, false, nil
}

// render prints a whole number from 0 up to but not including N.
func (n *randomNode) render(st *state) error {
	v, err := n.limit.eval(st)
	if err != nil {
		return atLine(n.line, err)
	}
	limit, ok := lenientInt(plain(v))
	if !ok || limit <= 0 {
		return atLine(n.line, renderError("random: the limit is %s, not a positive whole number", describe(v)))
	}
	r, err := rand.Int(rand.Reader, big.NewInt(int64(limit)))
	if err != nil {
		return atLine(n.line, renderError("random: %v", err))
	}
	return st.write(strconv.FormatInt(r.Int64(), 10))
}

package dialect

import (
	"errors"
	"math"
	"math/big"
	"strconv"
)

// Math filters. Liquid computes with Ruby's integers and, once a float is
// involved, with BigDecimal: 10.1 minus 2.2 is 7.9, not
// 7.8999999999999995. Floats are therefore computed here as the exact
// decimals they print as, and the result rounded back to a float64.

var errDivisionByZero = errors.New("division by zero")

func init() {
	register("plus", 1, 1, arith(func(a, b *big.Rat) (*big.Rat, error) { return new(big.Rat).Add(a, b), nil },
		func(a, b int64) (int64, bool) { c := a + b; return c, (c > a) == (b > 0) }))
	register("minus", 1, 1, arith(func(a, b *big.Rat) (*big.Rat, error) { return new(big.Rat).Sub(a, b), nil },
		func(a, b int64) (int64, bool) { c := a - b; return c, (c < a) == (b > 0) }))
	register("times", 1, 1, arith(func(a, b *big.Rat) (*big.Rat, error) { return new(big.Rat).Mul(a, b), nil },
		func(a, b int64) (int64, bool) {
			if a == 0 || b == 0 {
				return 0, true
			}
			c := a * b
			return c, c/b == a && !(a == -1 && b == math.MinInt64) && !(b == -1 && a == math.MinInt64)
		}))
	register("divided_by", 1, 1, arith(func(a, b *big.Rat) (*big.Rat, error) {
		if b.Sign() == 0 {
			return nil, errDivisionByZero
		}
		return new(big.Rat).Quo(a, b), nil
	}, nil))
	register("modulo", 1, 1, arith(func(a, b *big.Rat) (*big.Rat, error) {
		if b.Sign() == 0 {
			return nil, errDivisionByZero
		}
		q := new(big.Rat).Quo(a, b)
		fl := new(big.Int).Div(q.Num(), q.Denom()) // floor, as Euclidean division of a positive denominator
		return new(big.Rat).Sub(a, new(big.Rat).Mul(b, new(big.Rat).SetInt(fl))), nil
	}, nil))
	register("abs", 0, 0, func(fa *filterArgs, in any) (any, error) {
		x := toNumber(in)
		switch {
		case x.isFloat:
			return math.Abs(x.f), nil
		case x.i == math.MinInt64:
			return -float64(x.i), nil
		case x.i < 0:
			return number{i: -x.i}.value(), nil
		}
		return x.value(), nil
	})
	register("ceil", 0, 0, integerPart(math.Ceil))
	register("to_integer", 0, 0, integerPart(math.Trunc))
	register("floor", 0, 0, integerPart(math.Floor))
	register("round", 0, 1, round)
	register("at_least", 1, 1, func(fa *filterArgs, in any) (any, error) {
		a, b := toNumber(in), toNumber(fa.arg(0))
		if cmpNumbers(a, b) < 0 {
			return b.value(), nil
		}
		return a.value(), nil
	})
	register("at_most", 1, 1, func(fa *filterArgs, in any) (any, error) {
		a, b := toNumber(in), toNumber(fa.arg(0))
		if cmpNumbers(a, b) > 0 {
			return b.value(), nil
		}
		return a.value(), nil
	})
}

// exactRat is the decimal a float prints as.
func exactRat(n number) *big.Rat {
	if !n.isFloat {
		return new(big.Rat).SetInt64(n.i)
	}
	r, _ := new(big.Rat).SetString(strconv.FormatFloat(n.f, 'g', -1, 64))
	return r
}

// arith makes a two-operand filter. Integers compute as integers (intOp;
// nil means the operation is floor division), falling back to exact
// rationals when they overflow; floats compute as exact decimals.
func arith(ratOp func(a, b *big.Rat) (*big.Rat, error), intOp func(a, b int64) (int64, bool)) func(fa *filterArgs, in any) (any, error) {
	return func(fa *filterArgs, in any) (any, error) {
		a, b := toNumber(in), toNumber(fa.arg(0))
		if a.isFloat && (math.IsNaN(a.f) || math.IsInf(a.f, 0)) || b.isFloat && (math.IsNaN(b.f) || math.IsInf(b.f, 0)) {
			return nil, errorf("not a finite number")
		}
		if !a.isFloat && !b.isFloat {
			if intOp != nil {
				if c, ok := intOp(a.i, b.i); ok {
					return number{i: c}.value(), nil
				}
			} else {
				r, err := ratOp(exactRat(a), exactRat(b))
				if err != nil {
					return nil, err
				}
				fl := new(big.Int).Div(r.Num(), r.Denom())
				if fl.IsInt64() {
					return number{i: fl.Int64()}.value(), nil
				}
				f, _ := new(big.Float).SetInt(fl).Float64()
				return f, nil
			}
		}
		r, err := ratOp(exactRat(a), exactRat(b))
		if err != nil {
			return nil, err
		}
		f, _ := r.Float64()
		if !a.isFloat && !b.isFloat && r.IsInt() && r.Num().IsInt64() {
			return number{i: r.Num().Int64()}.value(), nil
		}
		return f, nil
	}
}

func integerPart(f func(float64) float64) func(fa *filterArgs, in any) (any, error) {
	return func(fa *filterArgs, in any) (any, error) {
		x := toNumber(in)
		if !x.isFloat {
			return x.value(), nil
		}
		r := f(x.f)
		if r >= math.MinInt64 && r < math.MaxInt64 {
			return number{i: int64(r)}.value(), nil
		}
		return r, nil
	}
}

// maxRoundPlaces bounds round's places: beyond it a float64 has no digit
// left to round, and the arithmetic would only grow.
const maxRoundPlaces = 400

// round rounds as Liquid does, on the number as written in decimal, half
// away from zero: 2.675 gives 2.68 and -2.5 gives -3. An integer stays
// exact unless rounded to tens or more.
func round(fa *filterArgs, in any) (any, error) {
	p := toNumber(fa.arg(0))
	n64 := p.i
	if p.isFloat {
		n64 = int64(p.f)
	}
	n := int(max(-maxRoundPlaces, min(n64, maxRoundPlaces)))
	x := toNumber(in)
	switch {
	case !x.isFloat && n >= 0:
		return x.value(), nil
	case x.isFloat && (math.IsNaN(x.f) || math.IsInf(x.f, 0)):
		return x.f, nil
	}
	r := exactRat(x)
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(n, -n))), nil))
	if n >= 0 {
		r.Mul(r, scale)
	} else {
		r.Quo(r, scale)
	}
	if r.Sign() < 0 {
		r.Sub(r, big.NewRat(1, 2))
	} else {
		r.Add(r, big.NewRat(1, 2))
	}
	r.SetInt(new(big.Int).Quo(r.Num(), r.Denom())) // toward zero
	if n >= 0 {
		r.Quo(r, scale)
	} else {
		r.Mul(r, scale)
	}
	if (!x.isFloat || n == 0) && r.IsInt() && r.Num().IsInt64() {
		return number{i: r.Num().Int64()}.value(), nil
	}
	out, _ := r.Float64()
	if out == 0 {
		out = 0 // not -0
	}
	return out, nil
}

package dialect

import (
	"math"
	"math/big"
	"strings"
)

// Customer.io's own filters: numbers and money formatted for a locale,
// pluralize, and the array filters that take an expression (where_exp,
// find_exp, group_by_exp).

func init() {
	register("format_number", 0, 1, formatNumber)
	register("currency", 0, 2, currency(false))
	register("rounded_currency", 0, 2, currency(true))
	register("pluralize", 1, 2, pluralize)
	for _, name := range []string{"where_exp", "find_exp", "group_by_exp"} {
		d := register(name, 2, 2, expFilter(name))
		d.prepare = prepareExp
	}
}

// numberStyle is how a locale writes numbers: its group and decimal
// separators, and where a currency symbol goes.
type numberStyle struct {
	group, decimal string
	symbolAfter    bool
	currency       string // the locale's own currency
}

// numberStyles covers the languages and regions Customer.io's users most
// often name; others are written as English is.
var numberStyles = map[string]numberStyle{
	"en":    {",", ".", false, "USD"},
	"en-us": {",", ".", false, "USD"},
	"en-gb": {",", ".", false, "GBP"},
	"en-ie": {",", ".", false, "EUR"},
	"en-ca": {",", ".", false, "CAD"},
	"en-au": {",", ".", false, "AUD"},
	"en-in": {",", ".", false, "INR"},
	"de":    {".", ",", true, "EUR"},
	"de-de": {".", ",", true, "EUR"},
	"de-at": {"\u00a0", ",", true, "EUR"},
	"de-ch": {"’", ".", false, "CHF"},
	"fr":    {"\u202f", ",", true, "EUR"},
	"fr-fr": {"\u202f", ",", true, "EUR"},
	"fr-ca": {"\u00a0", ",", true, "CAD"},
	"fr-ch": {"\u202f", ",", true, "CHF"},
	"es":    {".", ",", true, "EUR"},
	"es-es": {".", ",", true, "EUR"},
	"es-mx": {",", ".", false, "MXN"},
	"it":    {".", ",", true, "EUR"},
	"it-it": {".", ",", true, "EUR"},
	"nl":    {".", ",", false, "EUR"},
	"nl-nl": {".", ",", false, "EUR"},
	"pt":    {".", ",", false, "BRL"},
	"pt-br": {".", ",", false, "BRL"},
	"pt-pt": {"\u00a0", ",", true, "EUR"},
	"sv":    {"\u00a0", ",", true, "SEK"},
	"sv-se": {"\u00a0", ",", true, "SEK"},
	"nb":    {"\u00a0", ",", true, "NOK"},
	"da":    {".", ",", true, "DKK"},
	"fi":    {"\u00a0", ",", true, "EUR"},
	"pl":    {"\u00a0", ",", true, "PLN"},
	"ru":    {"\u00a0", ",", true, "RUB"},
	"ja":    {",", ".", false, "JPY"},
	"ja-jp": {",", ".", false, "JPY"},
	"zh":    {",", ".", false, "CNY"},
	"ko":    {",", ".", false, "KRW"},
}

// currencies are the symbols and decimal places of common currencies;
// others are written with their code.
var currencies = map[string]struct {
	symbol string
	places int
}{
	"USD": {"$", 2}, "EUR": {"€", 2}, "GBP": {"£", 2}, "JPY": {"¥", 0}, "CAD": {"CA$", 2}, "AUD": {"A$", 2},
	"INR": {"₹", 2}, "CHF": {"CHF", 2}, "MXN": {"MX$", 2}, "BRL": {"R$", 2}, "SEK": {"kr", 2}, "NOK": {"kr", 2},
	"DKK": {"kr.", 2}, "PLN": {"zł", 2}, "RUB": {"₽", 2}, "CNY": {"CN¥", 2}, "KRW": {"₩", 0},
}

func localeStyle(fa *filterArgs, i int) (numberStyle, error) {
	if !fa.has(i) || fa.arg(i) == nil {
		return numberStyles["en"], nil
	}
	name, err := fa.argText(i)
	if err != nil {
		return numberStyle{}, err
	}
	key := strings.ToLower(strings.ReplaceAll(trimSpace(name), "_", "-"))
	if s, ok := numberStyles[key]; ok {
		return s, nil
	}
	lang, _, _ := strings.Cut(key, "-")
	if s, ok := numberStyles[lang]; ok {
		return s, nil
	}
	return numberStyle{}, errorf("unknown locale %q", truncateText(name, 32))
}

// groupDigits writes the decimal digits of n (already rounded to places)
// with the style's separators.
func groupDigits(r *big.Rat, places int, style numberStyle, trim bool) string {
	text := r.FloatString(places)
	neg := strings.HasPrefix(text, "-")
	text = strings.TrimPrefix(text, "-")
	whole, frac, _ := strings.Cut(text, ".")
	if trim {
		frac = strings.TrimRight(frac, "0")
	}
	var b strings.Builder
	if neg && strings.Trim(whole+frac, "0") != "" {
		b.WriteByte('-')
	}
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(style.group)
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString(style.decimal)
		b.WriteString(frac)
	}
	return b.String()
}

// roundHalfUp rounds r to places, half away from zero.
func roundHalfUp(r *big.Rat, places int) *big.Rat {
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil))
	x := new(big.Rat).Mul(r, scale)
	if x.Sign() < 0 {
		x.Sub(x, big.NewRat(1, 2))
	} else {
		x.Add(x, big.NewRat(1, 2))
	}
	x.SetInt(new(big.Int).Quo(x.Num(), x.Denom()))
	return x.Quo(x, scale)
}

// formatNumber writes a number with the locale's separators and at most
// three decimals: 10000 is 10,000, and 123456.78 in "fr" 123 456,78.
func formatNumber(fa *filterArgs, in any) (any, error) {
	style, err := localeStyle(fa, 0)
	if err != nil {
		return nil, err
	}
	n := toNumber(in)
	if n.isFloat && (math.IsNaN(n.f) || math.IsInf(n.f, 0)) {
		return nil, errorf("not a finite number")
	}
	return groupDigits(roundHalfUp(exactRat(n), 3), 3, style, true), nil
}

// currency writes an amount of money: the locale's currency unless a
// code follows the locale, with the currency's decimals (none when
// rounded).
func currency(rounded bool) func(fa *filterArgs, in any) (any, error) {
	return func(fa *filterArgs, in any) (any, error) {
		style, err := localeStyle(fa, 0)
		if err != nil {
			return nil, err
		}
		code := style.currency
		if fa.has(1) {
			if code, err = fa.argText(1); err != nil {
				return nil, err
			}
			code = strings.ToUpper(trimSpace(code))
		}
		cur, known := currencies[code]
		if !known {
			if len(code) != 3 {
				return nil, errorf("unknown currency %q", truncateText(code, 16))
			}
			cur.symbol, cur.places = code, 2
		}
		places := cur.places
		if rounded {
			places = 0
		}
		n := toNumber(in)
		if n.isFloat && (math.IsNaN(n.f) || math.IsInf(n.f, 0)) {
			return nil, errorf("not a finite number")
		}
		r := roundHalfUp(exactRat(n), places)
		neg := r.Sign() < 0
		digits := groupDigits(new(big.Rat).Abs(r), places, style, false)
		var out string
		switch {
		case style.symbolAfter:
			out = digits + "\u00a0" + cur.symbol
		case len(cur.symbol) == 3 && !known || cur.symbol == code:
			out = cur.symbol + "\u00a0" + digits
		default:
			out = cur.symbol + digits
		}
		if neg {
			out = "-" + out
		}
		return out, nil
	}
}

// pluralize writes a count with the singular or plural word: 1 item, 3
// items. The plural defaults to the singular with an s.
func pluralize(fa *filterArgs, in any) (any, error) {
	singular, err := fa.argText(0)
	if err != nil {
		return nil, err
	}
	plural := singular + "s"
	if fa.has(1) {
		if plural, err = fa.argText(1); err != nil {
			return nil, err
		}
	}
	n := toNumber(in)
	count, err := fa.text(n.value())
	if err != nil {
		return nil, err
	}
	if cmpNumbers(n, number{i: 1}) == 0 {
		return count + " " + singular, nil
	}
	return fa.result(count + " " + plural)
}

// prepareExp parses the expression of where_exp and the like when it is
// written in the template.
func prepareExp(args []expr) any {
	if len(args) < 2 {
		return nil
	}
	if lit, ok := args[1].(literal); ok {
		if src, ok := lit.v.(string); ok {
			if e, err := parseCondition(src); err == nil {
				return e
			}
		}
	}
	return nil
}

// expFilter is where_exp, find_exp or group_by_exp: each item is bound
// to the name given first and the expression given second is evaluated.
func expFilter(name string) func(fa *filterArgs, in any) (any, error) {
	return func(fa *filterArgs, in any) (any, error) {
		items, err := fa.flatten(in)
		if err != nil {
			return nil, err
		}
		variable, err := fa.argText(0)
		if err != nil {
			return nil, err
		}
		e, _ := fa.prep.(expr)
		if e == nil {
			src, err := fa.argText(1)
			if err != nil {
				return nil, err
			}
			if e, err = parseCondition(src); err != nil {
				return nil, err
			}
		}
		st := fa.st
		st.frames = append(st.frames, binding{variable, nil})
		defer func() { st.frames = st.frames[:len(st.frames)-1] }()
		var out []any
		var groups []any
		for _, item := range items {
			if err := st.run.step(); err != nil {
				return nil, err
			}
			st.frames[len(st.frames)-1].value = item
			v, err := e.eval(st)
			if err != nil {
				return nil, err
			}
			switch name {
			case "find_exp":
				if truthy(v) {
					return item, nil
				}
			case "where_exp":
				if truthy(v) {
					out = append(out, item)
				}
			default:
				v = plain(v)
				found := false
				for _, g := range groups {
					if err := st.run.step(); err != nil {
						return nil, err
					}
					gm := g.(map[string]any)
					if equal(gm["name"], v) {
						gm["items"] = append(gm["items"].([]any), item)
						found = true
						break
					}
				}
				if !found {
					groups = append(groups, map[string]any{"name": v, "items": []any{item}})
				}
			}
		}
		switch name {
		case "find_exp":
			return nil, nil
		case "where_exp":
			if out == nil {
				out = []any{}
			}
			return out, nil
		}
		if groups == nil {
			groups = []any{}
		}
		return groups, nil
	}
}

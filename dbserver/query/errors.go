package query

import (
	"fmt"
	"strings"
)

// Error is a client error in a query, a hint or an update body: the HTTP layer answers it with
// 400. Field and Op name what is at fault (either may be empty) so the message can point at it.
type Error struct {
	Field, Op, Message string
}

// Error names the operator and field at fault, then says what is wrong.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Op != "" && e.Field != "":
		fmt.Fprintf(&b, "%s on field %q: ", e.Op, e.Field)
	case e.Op != "":
		fmt.Fprintf(&b, "%s: ", e.Op)
	case e.Field != "":
		fmt.Fprintf(&b, "field %q: ", e.Field)
	}
	b.WriteString(e.Message)
	return b.String()
}

func errorf(field, op, format string, args ...any) *Error {
	return &Error{Field: field, Op: op, Message: fmt.Sprintf(format, args...)}
}

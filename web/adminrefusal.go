package web

import (
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse"
)

// How the console's Groups, Sessions, Audit and Routes parts show a
// refusal of the use cases on their page.

// refusal is err as a console page shows it — its status and message —
// when it is a refusal the administrator can act on: invalid input, a
// conflict (a duplicate, the last administrators), permissions the actor
// lacks, something gone meanwhile. ok is false for anything else (a store
// failure, a bug), which is answered as every endpoint answers it.
func refusal(err error) (ge *gatehouse.Error, status int, ok bool) {
	if !errors.As(err, &ge) {
		return nil, 0, false
	}
	switch ge.Code {
	case gatehouse.CodeValidation:
		return ge, http.StatusUnprocessableEntity, true
	case gatehouse.CodeConflict:
		return ge, http.StatusConflict, true
	case gatehouse.CodePermissionDenied:
		return ge, http.StatusForbidden, true
	case gatehouse.CodeNotFound:
		return ge, http.StatusNotFound, true
	}
	return nil, 0, false
}

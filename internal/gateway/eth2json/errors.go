package eth2json

// ParseError is a refusal of a signing request's JSON. Field is the dotted JSON path
// ("beacon_block.block_header.slot", "attestations[2].data"), empty for the document as a
// whole; Reason says what is wrong and is safe to show to the client.
type ParseError struct {
	Field  string
	Reason string
}

// Error returns "field: reason", or the reason alone when there is no field.
func (e *ParseError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func perr(field, reason string) *ParseError { return &ParseError{Field: field, Reason: reason} }

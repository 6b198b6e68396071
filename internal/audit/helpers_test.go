package audit

import (
	"encoding/json"
	"strings"
)

func jsonDecoder(line string) *json.Decoder {
	return json.NewDecoder(strings.NewReader(line))
}

package events

// Inbound are the event types that producers outside the system send (telematics boxes,
// partner garages), each with what its payload must satisfy beyond its Go shape. Their
// published JSON Schemas (Schema) are strict: every field not marked omitempty is
// required, no other field is allowed, and each field has the bounds below; sync-worker
// validates every inbound event against them before anything is published.
//
// These payloads carry no aggregate version: their producers cannot know ours. OrderedBy
// names the time field (RFC 3339) that orders them instead: a consumer applies a reading
// only when it was taken after the last one it applied.
var Inbound = map[string]InboundType{
	VehicleOdometerRead: {OrderedBy: "readAt", Fields: map[string]FieldRule{
		"vehicleId":  uuidField,
		"readAt":     timeField,
		"odometerKm": {Minimum: ptr(0), Maximum: ptr(2_000_000)},
	}},
	VehicleFuelRead: {OrderedBy: "readAt", Fields: map[string]FieldRule{
		"vehicleId":   uuidField,
		"readAt":      timeField,
		"fuelEighths": {Minimum: ptr(0), Maximum: ptr(8)},
	}},
	VehiclePositionRead: {OrderedBy: "readAt", Fields: map[string]FieldRule{
		"vehicleId": uuidField,
		"readAt":    timeField,
		"latitude":  {Minimum: ptr(-90), Maximum: ptr(90)},
		"longitude": {Minimum: ptr(-180), Maximum: ptr(180)},
	}},
	VehicleDamageReported: {OrderedBy: "reportedAt", Fields: map[string]FieldRule{
		"vehicleId":   uuidField,
		"reportedAt":  timeField,
		"severity":    {Enum: DamageSeverities},
		"description": {MaxLength: 1000},
	}},
	VehicleRepairCompleted: {OrderedBy: "completedAt", Fields: map[string]FieldRule{
		"vehicleId":   uuidField,
		"completedAt": timeField,
		"note":        {MaxLength: 1000},
	}},
}

// DamageSeverities are the values of DamageReport.Severity, mildest first.
var DamageSeverities = []string{"minor", "major", "total_loss"}

// InboundType is what an inbound type's payload must satisfy.
type InboundType struct {
	// OrderedBy is the JSON name of the required date-time field that orders the type's
	// events (they carry no version).
	OrderedBy string
	// Fields holds each field's rule by its JSON name; a test holds it to the payload's
	// fields, one rule each.
	Fields map[string]FieldRule
}

// FieldRule bounds one field of an inbound payload (JSON Schema keywords of the same names).
type FieldRule struct {
	// Format is a JSON Schema format: "uuid" or "date-time".
	Format string
	// Minimum and Maximum bound a number (inclusive); nil: unbounded.
	Minimum, Maximum *float64
	// MaxLength bounds a string (in characters); 0: the default, 200, for a string without
	// a format or an enum.
	MaxLength int
	// Enum lists the values a string may take.
	Enum []string
}

// DefaultMaxLength bounds a free string of an inbound payload that names no bound itself.
const DefaultMaxLength = 200

var (
	uuidField = FieldRule{Format: "uuid"}
	timeField = FieldRule{Format: "date-time"}
)

func ptr(f float64) *float64 { return &f }

// title: Measurements of the bird-migration bucket
// dataset: bird-migration
// about: schema.measurements (schema exploration, step 2).
// fluxlab: range 1970-01-01T00:00:00Z now()
import "influxdata/influxdb/schema"

schema.measurements(bucket: "bird-migration", start: v.timeRangeStart, stop: v.timeRangeStop)

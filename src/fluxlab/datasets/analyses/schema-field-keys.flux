// title: Field keys of the hartford-incidents bucket
// dataset: hartford-incidents
// about: schema.fieldKeys (schema exploration, step 3).
// fluxlab: range 1970-01-01T00:00:00Z now()
import "influxdata/influxdb/schema"

schema.fieldKeys(bucket: "hartford-incidents", start: v.timeRangeStart, stop: v.timeRangeStop)

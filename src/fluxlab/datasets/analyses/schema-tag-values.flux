// title: Neighborhoods (tag values) in the hartford-incidents bucket
// dataset: hartford-incidents
// about: schema.tagValues of the neighborhood tag (schema exploration, step 4).
// fluxlab: range 1970-01-01T00:00:00Z now()
import "influxdata/influxdb/schema"

schema.tagValues(
    bucket: "hartford-incidents",
    tag: "neighborhood",
    start: v.timeRangeStart,
    stop: v.timeRangeStop,
)

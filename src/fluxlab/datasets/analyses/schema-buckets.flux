// title: Buckets
// dataset: any
// about: Every bucket (schema exploration, step 1).
buckets()
    |> keep(columns: ["name", "retentionPeriod"])
    |> sort(columns: ["name"])

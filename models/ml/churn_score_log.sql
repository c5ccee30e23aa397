{{ config(materialized='incremental', unique_key=['customer_id', 'as_of']) }}

-- Every churn score, kept with the time it was given for: churn_scores holds only each
-- customer's latest. Labels land churn_horizon_days later (churn_labels), when the
-- churn_performance monitor joins them to these scores. A day scored again keeps its first
-- scores: what the campaign acted on.
select
    scores.customer_id,
    spine.as_of,
    scores.probability_1,
    scores.model_version,
    scores.scored_at
from {{ ref('churn_scores') }} as scores
join {{ ref('churn_scoring_spine') }} as spine using (customer_id)
{% if is_incremental() %}
where spine.as_of > (select max(as_of) from {{ this }})
{% endif %}

-- Customers by churn risk, for the win-back campaign: the churn model's scores (written by the
-- scoring node churn_scores) with what the campaign team needs to act on them.
select
    scores.customer_id,
    customers.country_code,
    customers.lifetime_revenue,
    customers.days_since_last_order,
    scores.probability_1 as churn_probability,
    case
        when scores.probability_1 >= 0.6 then 'high'
        when scores.probability_1 >= 0.3 then 'medium'
        else 'low'
    end as churn_risk,
    scores.model_version,
    scores.scored_at
from {{ ref('churn_scores') }} as scores
join {{ ref('dim_customers') }} as customers using (customer_id)

{#- Small helpers shared by the models. -#}

{#- Trimmed, lower-case text; empty strings become null. -#}
{% macro clean_text(column) -%}
    nullif(lower(trim({{ column }})), '')
{%- endmacro %}

{#- numerator / denominator, or null when the denominator is 0 or null
    (DuckDB 2.0 gives inf for x / 0, and raises an error for x // 0 and x % 0). -#}
{% macro safe_divide(numerator, denominator) -%}
    ({{ numerator }}) / nullif({{ denominator }}, 0)
{%- endmacro %}

{#- Share of rows where `condition` holds, as a double between 0 and 1. -#}
{% macro share_of(condition) -%}
    avg(case when {{ condition }} then 1.0 else 0.0 end)
{%- endmacro %}

select '{{ env_var('SQLML_GOLDEN_SURELY_UNSET', 'dev') }}' as environment

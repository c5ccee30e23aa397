select 'dev' as environment

-- Plain SQL comes out unchanged.
select 1 as id, 'a' as name
where 1 = 1

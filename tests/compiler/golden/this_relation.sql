select count(*) as n from {{ this }}

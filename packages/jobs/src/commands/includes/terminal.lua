local function terminal(status)
  return status == 'succeeded' or status == 'failed' or status == 'cancelled'
end

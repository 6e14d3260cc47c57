-- Rotates GET /v1/customers/{id}/recommendations over the customer ids in
-- the file named by WRK_CUSTOMERS, so that wrk measures a mix of known
-- customers instead of one cached path. WRK_KEY is the API key.
local customers = {}
local next_index = 1

function init(args)
  for line in io.lines(os.getenv("WRK_CUSTOMERS")) do
    if line ~= "" then
      customers[#customers + 1] = line
    end
  end
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("WRK_KEY")
end

function request()
  local customer = customers[next_index]
  next_index = next_index % #customers + 1
  return wrk.format("GET", "/v1/customers/" .. customer .. "/recommendations?k=10")
end

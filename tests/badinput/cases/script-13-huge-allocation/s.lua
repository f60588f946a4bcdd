print(#string.rep("x", math.maxinteger))

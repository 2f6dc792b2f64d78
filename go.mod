module github.com/hlsd/hlsd

go 1.26

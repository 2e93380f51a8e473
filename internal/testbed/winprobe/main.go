// Command winprobe is a placeholder (filled in next).
package main

func main() {}

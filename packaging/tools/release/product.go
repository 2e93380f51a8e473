package release

import (
	"fmt"
	"os"

	"github.com/adldapctl/adldapctl/packaging"
)

// Product is the one description of adldapctl every package format is
// rendered from (packaging/product.json).
type Product = packaging.Product

// LoadProduct reads a product description and checks every field is set.
func LoadProduct(path string) (Product, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Product{}, fmt.Errorf("product description: %w", err)
	}
	p, err := packaging.ParseProduct(b)
	if err != nil {
		return p, fmt.Errorf("product description %s: %w", path, err)
	}
	return p, nil
}

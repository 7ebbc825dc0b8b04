package cli

import (
	"cmp"
	"flag"
	"fmt"
	"text/tabwriter"

	"medwallet/app"
	"medwallet/wallet"
)

func init() {
	register(&command{
		name: "people", args: "[--json] | add --name N [--birth-date YYYY-MM-DD] [--gender G] | rename NAME|ID --name N | remove NAME|ID", json: true,
		summary: "list the people whose records the wallet holds (the owner and dependants); add one by hand, rename or remove one",
		setup: with(func(fs *flag.FlagSet, o *peopleOptions) {
			fs.StringVar(&o.name, "name", "", "the person's name (add, rename)")
			fs.StringVar(&o.birthDate, "birth-date", "", "the person's birth date, YYYY-MM-DD (add)")
			fs.StringVar(&o.gender, "gender", "", "male, female, other or unknown (add)")
		}, runPeople),
	})
}

type peopleOptions struct{ name, birthDate, gender string }

// personView is the stable JSON of `people --json`: one line per person.
type personView struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	BirthDate string `json:"birthDate"`
	Gender    string `json:"gender"`
	Owner     bool   `json:"owner"`
	Records   int    `json:"records"`
}

func viewOf(p wallet.Person) personView {
	return personView{ID: p.ID, Name: p.Name, BirthDate: p.BirthDate, Gender: p.Gender, Owner: p.Owner, Records: p.Records}
}

func runPeople(c *call, o *peopleOptions, args []string) error {
	if _, err := c.wallet(); err != nil {
		return err
	}
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "", "list":
		if len(args) > 0 {
			return fmt.Errorf("people takes no arguments, not %q", args[0])
		}
		people, err := app.People(c.session)
		if err != nil {
			return err
		}
		if c.json {
			out := []personView{}
			for _, p := range people {
				out = append(out, viewOf(p))
			}
			return c.printJSON(out)
		}
		if len(people) == 0 {
			fmt.Fprintln(c.env.Stderr, "no people yet: the first file imported names the owner, or add them with 'medwallet people add --name N --birth-date YYYY-MM-DD'")
			return nil
		}
		tw := tabwriter.NewWriter(c.out(), 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tBORN\tGENDER\tRECORDS\t")
		for _, p := range people {
			owner := ""
			if p.Owner {
				owner = "owner"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", p.ID, p.Name, cmp.Or(p.BirthDate, "-"), cmp.Or(p.Gender, "-"), p.Records, owner)
		}
		return tw.Flush()
	case "add":
		if len(args) > 0 {
			return fmt.Errorf("people add takes flags only, not %q", args[0])
		}
		p, err := app.AddPerson(c.session, o.name, o.birthDate, o.gender)
		if err != nil {
			return fmt.Errorf("people add: %w", err)
		}
		return c.printPerson(p, "added %s, born %s, as %s (id %s)\n")
	case "rename":
		if len(args) != 1 || o.name == "" {
			return fmt.Errorf("people rename: name the person and give the new name: people rename NAME|ID --name NEW")
		}
		p, err := app.RenamePerson(c.session, args[0], o.name)
		if err != nil {
			return fmt.Errorf("people rename: %w", err)
		}
		return c.printPerson(p, "renamed: %s, born %s, %s (id %s)\n")
	case "remove":
		if len(args) != 1 {
			return fmt.Errorf("people remove: name one person (people remove NAME|ID)")
		}
		p, err := app.FindPerson(c.session, args[0])
		if err != nil {
			return fmt.Errorf("people remove: %w", err)
		}
		if err := app.RemovePerson(c.session, p.ID); err != nil {
			return fmt.Errorf("people remove: %w", err)
		}
		if c.json {
			return c.printJSON(viewOf(p))
		}
		fmt.Fprintf(c.out(), "removed %s (%s)\n", p.Name, p.ID)
		return nil
	}
	return fmt.Errorf("people: say list, add, rename or remove, not %q", sub)
}

// printPerson prints p through format, whose verbs are the name, the
// birth date, the role and the ID.
func (c *call) printPerson(p wallet.Person, format string) error {
	if c.json {
		return c.printJSON(viewOf(p))
	}
	role := "a dependant"
	if p.Owner {
		role = "the owner"
	}
	fmt.Fprintf(c.out(), format, p.Name, cmp.Or(p.BirthDate, "unknown"), role, p.ID)
	return nil
}

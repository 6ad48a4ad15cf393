package disposable_test

import (
	"fmt"
	"path/filepath"

	"github.com/preflight-email/preflight/disposable"
)

func ExampleList_Lookup() {
	l, err := disposable.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	// The domain must already be lowercase ASCII; the local part may be in
	// any case and carry a +tag.
	fmt.Printf("%+v\n", l.Lookup("Info+news", "inbox.mailinator.com"))
	fmt.Printf("%+v\n", l.Lookup("jane.doe", "gmail.com"))
	fmt.Printf("%+v\n", l.Lookup("jane.doe", "example.org"))
	// Output:
	// {Disposable:true Role:true Free:false}
	// {Disposable:false Role:false Free:true}
	// {Disposable:false Role:false Free:false}
}

func ExampleLoad() {
	// valid.txt contains, among others:
	//	disposable +my-temp-mail.example
	//	free -gmx.de
	l, err := disposable.Load(filepath.Join("testdata", "overrides", "valid.txt"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(l.IsDisposable("my-temp-mail.example"), l.IsFree("gmx.de"))

	// A bad file names the file and line, and Reload keeps the old lists.
	err = l.Reload(filepath.Join("testdata", "overrides", "bad-list.txt"))
	fmt.Println(err)
	fmt.Println(l.IsDisposable("my-temp-mail.example"))
	// Output:
	// true false
	// testdata/overrides/bad-list.txt:3: unknown list "spam" (want disposable, free or role)
	// true
}
